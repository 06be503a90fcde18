// Any bytes as heap pages of 1 kB (small, so that the fuzzer reaches
// tuples): every tuple handed out lies inside the page it came from, and
// nothing is read outside the input.
#include <cstdlib>
#include <vector>

#include "libcontrol/pages/heap_tuples.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint32_t kBlock = 1024;
  const std::vector<uint8_t> bytes(data, data + size);  // exactly sized, so ASan sees overreads
  pgrescue::ForEachHeapTuple(bytes, kBlock, [&](const pgrescue::HeapTuple& t) {
    const uint8_t* begin = bytes.data();
    if (t.data.data() < begin || t.data.data() + t.data.size() > begin + bytes.size()) std::abort();
    const size_t page = static_cast<size_t>(t.data.data() - begin) / kBlock;
    if (static_cast<size_t>(t.data.data() + t.data.size() - begin) > (page + 1) * kBlock) std::abort();
  });
  return 0;
}
