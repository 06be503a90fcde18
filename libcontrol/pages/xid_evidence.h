// What heap tuples prove about their transactions' outcomes, per XID, for
// rebuilding pg_xact; and each relation's tuples by the XIDs their
// visibility still depends on, so the rows a rebuilt pg_xact will show can
// be counted before it is written.
//
// A tuple's hint bits record an outcome a reader already looked up:
// HEAP_XMIN_COMMITTED / HEAP_XMIN_INVALID for the inserter, and
// HEAP_XMAX_COMMITTED / HEAP_XMAX_INVALID for a deleter or updater (a locker's
// XMAX_INVALID only says it is gone, not how it ended). A page marked
// all-visible (PD_ALL_VISIBLE, which a set visibility map bit implies) holds
// only rows every transaction sees: each inserter committed, and no deleter
// did. MultiXact xmax values are left out: their members are not on the page.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <unordered_map>
#include <utility>

#include "libcontrol/pages/heap_tuples.h"

namespace pgrescue {

// Claims about one XID, as bits.
namespace xid_claim {
constexpr uint8_t kHintCommitted = 1;       // a committed (or frozen) hint names it
constexpr uint8_t kHintAborted = 2;         // an invalid hint names it as inserter or deleter
constexpr uint8_t kAllVisibleCommitted = 4; // inserter of a row on an all-visible page
constexpr uint8_t kAllVisibleAborted = 8;   // deleter of a row on an all-visible page
constexpr uint8_t kNeeded = 16;             // a reader needs its status: inserter, or deleter not a mere locker
constexpr uint8_t kCommitted = kHintCommitted | kAllVisibleCommitted;
constexpr uint8_t kAborted = kHintAborted | kAllVisibleAborted;
}  // namespace xid_claim

// Either side of a tuple: an XID whose status decides, or settled by the
// tuple itself (its hint bits, no xmax, a locker, a MultiXact).
constexpr uint64_t kSettledYes = uint64_t{1} << 32;  // inserted / deleted, whatever pg_xact says
constexpr uint64_t kSettledNo = uint64_t{2} << 32;   // never inserted / not deleted

// Tuples of one relation file by (inserter, deleter), each an XID or settled.
using TupleShapes = std::map<std::pair<uint64_t, uint64_t>, uint64_t>;

// A tuple's shape: (inserter, deleter), each an XID or settled by the tuple.
std::pair<uint64_t, uint64_t> ShapeOf(const HeapTuple& tuple);

struct XidTupleEvidence {
  std::unordered_map<uint32_t, uint8_t> claims;  // XID (>= 3) -> xid_claim bits

  // Takes one tuple of a valid heap page; `shapes` gets its shape.
  void Add(const HeapTuple& tuple, bool all_visible, TupleShapes* shapes);
  void Merge(const XidTupleEvidence& other);
};

// Whether a reader sees a tuple of `shape` when `committed` says which XIDs
// committed.
template <typename Committed>
bool VisibleShape(std::pair<uint64_t, uint64_t> shape, Committed&& committed) {
  const bool inserted = shape.first == kSettledYes || (shape.first < kSettledYes && committed(uint32_t(shape.first)));
  const bool deleted = shape.second == kSettledYes || (shape.second < kSettledYes && committed(uint32_t(shape.second)));
  return inserted && !deleted;
}

// How many of `shapes`' tuples a reader sees.
template <typename Committed>
uint64_t VisibleTuples(const TupleShapes& shapes, Committed&& committed) {
  uint64_t n = 0;
  for (const auto& [shape, count] : shapes) n += VisibleShape(shape, committed) ? count : 0;
  return n;
}

// Whether the row an index entry points at (block, line pointer) has a
// version a reader sees: the HOT chain from it is followed (redirects, then
// t_ctid while HEAP_HOT_UPDATED), as an index scan does. `heap` is the
// relation's whole main fork.
bool RowVisible(std::span<const uint8_t> heap, uint32_t block_size, uint32_t block, uint16_t offset,
                const std::function<bool(uint32_t)>& committed);

}  // namespace pgrescue
