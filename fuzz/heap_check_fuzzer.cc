// Any bytes as heap and btree pages of 1 kB whose header passes the server's
// rule: the checks read nothing outside the page, every sound tuple lies
// inside it, every problem names a line pointer that exists, and the fast
// path passes only what the full check passes.
#include <cstdlib>
#include <span>
#include <vector>

#include "libcontrol/pages/btree_check.h"
#include "libcontrol/pages/heap_check.h"
#include "libcontrol/pages/page_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint32_t kBlock = 1024;
  const std::vector<uint8_t> bytes(data, data + size);  // exactly sized, so ASan sees overreads
  for (size_t at = 0; at + kBlock <= bytes.size(); at += kBlock) {
    const std::span<const uint8_t> page(bytes.data() + at, kBlock);
    (void)pgrescue::RowsByLinePointers(page);
    if (pgrescue::CheckPage(page, 0, false).kind != pgrescue::PageKind::kValid) continue;
    (void)pgrescue::CheckBtreePage(page, at / kBlock);
    std::vector<pgrescue::TupleProblem> problems;
    const pgrescue::HeapLimits limits{1000, 0, 10};
    pgrescue::CheckHeapPage(page, limits, &problems, [&](const pgrescue::HeapTuple& t) {
      if (t.data.data() < page.data() || t.data.data() + t.data.size() > page.data() + page.size()) std::abort();
    });
    for (const auto& p : problems) {
      if (p.offset < 1 || p.offset > pgrescue::MaxOffset(page) || p.message.empty()) std::abort();
    }
    // The inline fast path and the full check agree on every sound tuple.
    for (uint16_t offset = 1; offset <= pgrescue::MaxOffset(page); ++offset) {
      if (!pgrescue::TupleIsSound(page, offset, limits)) continue;
      std::vector<pgrescue::TupleProblem> none;
      if (!pgrescue::CheckLinePointer(page, offset, pgrescue::MaxOffset(page), limits, &none) || !none.empty()) {
        std::abort();
      }
    }
  }
  return 0;
}
