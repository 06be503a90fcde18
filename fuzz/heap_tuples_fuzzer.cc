// Any bytes as heap pages of 1 kB (small, so that the fuzzer reaches
// tuples): every tuple handed out lies inside the page it came from, and
// nothing is read outside the input. The same bytes as a btree index: every
// leaf key lies inside the input; following each entry's HOT chain in the
// bytes as a heap ends.
#include <cstdlib>
#include <vector>

#include "libcontrol/pages/btree_keys.h"
#include "libcontrol/pages/heap_tuples.h"
#include "libcontrol/pages/xid_evidence.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint32_t kBlock = 1024;
  const std::vector<uint8_t> bytes(data, data + size);  // exactly sized, so ASan sees overreads
  pgrescue::ForEachHeapTuple(bytes, kBlock, [&](const pgrescue::HeapTuple& t) {
    const uint8_t* begin = bytes.data();
    if (t.data.data() < begin || t.data.data() + t.data.size() > begin + bytes.size()) std::abort();
    const size_t page = static_cast<size_t>(t.data.data() - begin) / kBlock;
    if (static_cast<size_t>(t.data.data() + t.data.size() - begin) > (page + 1) * kBlock) std::abort();
  });
  const auto committed = [](uint32_t xid) { return xid % 2 == 0; };
  pgrescue::ForEachBtreeLeafEntry(bytes, kBlock, [&](std::span<const uint8_t> key, pgrescue::HeapTid tid) {
    if (key.data() < bytes.data() || key.data() + key.size() > bytes.data() + bytes.size()) std::abort();
    (void)pgrescue::RowVisible(bytes, kBlock, tid.block, tid.offset, committed);
  });
  return 0;
}
