#include "libcontrol/pages/xid_evidence.h"

#include <algorithm>

#include "libcontrol/base/bytes.h"

namespace pgrescue {
namespace {

constexpr uint32_t kFirstNormalXid = 3;

}  // namespace

std::pair<uint64_t, uint64_t> ShapeOf(const HeapTuple& t) {
  std::pair<uint64_t, uint64_t> shape{kSettledNo, kSettledNo};
  // Below 3 are the bootstrap and frozen XIDs: committed, never in pg_xact.
  if (t.xmin < kFirstNormalXid) {
    shape.first = t.xmin == 0 ? kSettledNo : kSettledYes;
  } else if (t.xmin_committed()) {  // frozen too
    shape.first = kSettledYes;
  } else if (!t.xmin_aborted()) {
    shape.first = t.xmin;
  }
  if (t.xmax >= kFirstNormalXid && !t.xmax_is_multixact() && !t.xmax_lock_only()) {
    if (t.infomask & heap::kXmaxCommitted) {
      shape.second = kSettledYes;
    } else if (!(t.infomask & heap::kXmaxInvalid)) {
      shape.second = t.xmax;
    }
  }
  return shape;
}

void XidTupleEvidence::Add(const HeapTuple& t, bool all_visible, TupleShapes* shapes) {
  using namespace xid_claim;  // NOLINT: the claim bits
  const uint8_t av_committed = all_visible ? kAllVisibleCommitted : 0, av_aborted = all_visible ? kAllVisibleAborted : 0;
  if (t.xmin >= kFirstNormalXid) {
    uint8_t& c = claims[t.xmin];
    if (t.xmin_committed()) {  // frozen too
      c |= kHintCommitted | av_committed;
    } else if (t.xmin_aborted()) {
      c |= kHintAborted | av_committed;
    } else {
      c |= kNeeded | av_committed;
    }
  }
  if (t.xmax >= kFirstNormalXid && !t.xmax_is_multixact()) {
    uint8_t& c = claims[t.xmax];
    if (t.xmax_lock_only()) {
      // Neither hint nor page says how a locker ended.
    } else if (t.infomask & heap::kXmaxCommitted) {
      c |= kHintCommitted | av_aborted;
    } else if (t.infomask & heap::kXmaxInvalid) {
      c |= kHintAborted | av_aborted;
    } else {
      c |= kNeeded | av_aborted;
    }
  }
  ++(*shapes)[ShapeOf(t)];
}

bool RowVisible(std::span<const uint8_t> heap, uint32_t block_size, uint32_t block, uint16_t offset,
                const std::function<bool(uint32_t)>& committed) {
  const uint64_t page_at = uint64_t{block} * block_size;
  if (page_at + block_size > heap.size()) return false;
  const auto page = heap.subspan(page_at, block_size);
  const size_t lower = std::min<size_t>(Le16(page.data() + 12), block_size);
  for (int hops = 0; hops < 512 && offset >= 1; ++hops) {  // a chain never revisits a line pointer
    const size_t lp = heap::kPageHeaderSize + (offset - 1) * heap::kLinePointerSize;
    if (lp + heap::kLinePointerSize > lower) return false;
    const uint32_t item = Le32(page.data() + lp);
    if (((item >> 15) & 3) == heap::kLpRedirect) {
      offset = static_cast<uint16_t>(item & 0x7FFF);
      continue;
    }
    const auto tuple = TupleAt(page, lp);
    if (!tuple) return false;
    if (VisibleShape(ShapeOf(*tuple), committed)) return true;
    const uint8_t* t = page.data() + (item & 0x7FFF);
    const uint32_t next_block = static_cast<uint32_t>(Le16(t + heap::kCtidAt)) << 16 | Le16(t + heap::kCtidAt + 2);
    if (!(Le16(t + heap::kInfomask2At) & heap::kHotUpdated) || next_block != block) return false;
    offset = Le16(t + heap::kCtidAt + 4);
  }
  return false;
}

void XidTupleEvidence::Merge(const XidTupleEvidence& other) {
  for (const auto& [xid, bits] : other.claims) claims[xid] |= bits;
}

}  // namespace pgrescue
