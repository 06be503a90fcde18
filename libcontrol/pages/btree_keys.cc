#include "libcontrol/pages/btree_keys.h"

#include "libcontrol/base/bytes.h"
#include "libcontrol/pages/heap_format.h"
#include "libcontrol/pages/page_check.h"

namespace pgrescue {
namespace {

constexpr size_t kSpecialSize = 16;  // BTPageOpaqueData
constexpr uint16_t kLeaf = 0x0001, kDeleted = 0x0004, kHalfDead = 0x0010;
constexpr size_t kIndexTupleHeader = 8;       // t_tid (6) + t_info (2)
constexpr uint16_t kSizeMask = 0x1FFF;        // INDEX_SIZE_MASK
constexpr uint16_t kAltTid = 0x2000;          // INDEX_ALT_TID_MASK
constexpr uint16_t kIsPosting = 0x2000;       // BT_IS_POSTING, in the TID's offset
constexpr uint16_t kPostingCountMask = 0x0FFF;
constexpr size_t kTidSize = 6;

HeapTid TidAt(const uint8_t* p) {
  return {static_cast<uint32_t>(Le16(p)) << 16 | Le16(p + 2), Le16(p + 4)};
}

}  // namespace

void ForEachBtreeLeafEntry(std::span<const uint8_t> index, uint32_t block_size,
                           const std::function<void(std::span<const uint8_t>, HeapTid)>& each) {
  for (size_t at = block_size; at + block_size <= index.size(); at += block_size) {  // block 0: the metapage
    const auto page = index.subspan(at, block_size);
    if (CheckPage(page, 0, false).kind != PageKind::kValid || Le16(page.data() + 16) != block_size - kSpecialSize) {
      continue;
    }
    const uint8_t* special = page.data() + block_size - kSpecialSize;
    const uint16_t flags = Le16(special + 12);
    if (!(flags & kLeaf) || (flags & (kDeleted | kHalfDead))) continue;
    const bool rightmost = Le32(special + 4) == 0;
    const size_t lower = Le16(page.data() + 12);
    // Every page but the rightmost starts with its high key.
    for (size_t lp = heap::kPageHeaderSize + (rightmost ? 0 : heap::kLinePointerSize);
         lp + heap::kLinePointerSize <= lower; lp += heap::kLinePointerSize) {
      const uint32_t item = Le32(page.data() + lp);
      const uint32_t off = item & 0x7FFF, lp_flags = (item >> 15) & 3, len = item >> 17;
      // Items marked dead count too: the mark says the row was dead to every
      // reader by the outcomes known then, and a rebuilt pg_xact may change those.
      if ((lp_flags != heap::kLpNormal && lp_flags != heap::kLpDead) || len < kIndexTupleHeader ||
          off + len > block_size) {
        continue;
      }
      const uint8_t* t = page.data() + off;
      const uint16_t info = Le16(t + 6);
      const size_t size = std::min<size_t>(info & kSizeMask, len);
      if (size < kIndexTupleHeader) continue;
      const HeapTid tid = TidAt(t);
      if ((info & kAltTid) && (tid.offset & kIsPosting)) {
        const size_t count = tid.offset & kPostingCountMask, list = tid.block;
        if (list < kIndexTupleHeader || list + count * kTidSize > size) continue;
        for (size_t i = 0; i < count; ++i) each(std::span(t + kIndexTupleHeader, list - kIndexTupleHeader), TidAt(t + list + i * kTidSize));
      } else {
        each(std::span(t + kIndexTupleHeader, size - kIndexTupleHeader), tid);
      }
    }
  }
}

}  // namespace pgrescue
