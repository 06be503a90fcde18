// The tuples of a heap relation's pages, read without a server, for the
// system catalogs. Only what their fixed-width leading columns need: the
// tuple header's XIDs and hint bits, the OID where it sits in the header
// (before 12), and the column bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libcontrol/base/bytes.h"
#include "libcontrol/base/result.h"
#include "libcontrol/pages/heap_format.h"

namespace pgrescue {

struct HeapTuple {
  uint32_t xmin = 0;
  uint32_t xmax = 0;
  uint16_t infomask = 0;
  std::optional<uint32_t> header_oid;  // HEAP_HASOID (before 12)
  std::span<const uint8_t> data;       // from t_hoff to the end of the tuple
  // Whether the tuple can be the current version as far as its hint bits
  // tell without pg_xact: its insert not known aborted, and no delete or
  // update that is not a mere lock or known aborted.
  bool inserted_not_aborted() const;
  bool not_deleted() const;
  // xmin's hint bits: committed, aborted, or both (frozen).
  bool xmin_committed() const;
  bool xmin_aborted() const;
  bool xmin_frozen() const { return xmin_committed() && xmin_aborted(); }
  bool xmax_is_multixact() const;
  // xmax only locks the row (HEAP_XMAX_IS_LOCKED_ONLY): whoever holds it
  // never deleted or updated it.
  bool xmax_lock_only() const;
};

// The tuple a line pointer points at, when it is a normal one whose tuple
// lies inside `page` (which must have passed CheckPage); `lp` is the line
// pointer's byte offset. Inline: the page scan calls it for every tuple.
inline std::optional<HeapTuple> TupleAt(std::span<const uint8_t> page, size_t lp) {
  const uint32_t item = Le32(page.data() + lp);
  const uint32_t off = item & 0x7FFF, flags = (item >> 15) & 3, len = item >> 17;
  if (flags != heap::kLpNormal || len < heap::kTupleHeaderSize || off + len > page.size()) return std::nullopt;
  const uint8_t* t = page.data() + off;
  HeapTuple tuple;
  tuple.xmin = Le32(t + heap::kXminAt);
  tuple.xmax = Le32(t + heap::kXmaxAt);
  tuple.infomask = Le16(t + heap::kInfomaskAt);
  const uint8_t hoff = t[heap::kHoffAt];
  if (hoff < heap::kTupleHeaderSize || hoff > len) return std::nullopt;
  if ((tuple.infomask & heap::kHasOid) != 0 && hoff >= heap::kTupleHeaderSize + 4) tuple.header_oid = Le32(t + hoff - 4);
  tuple.data = std::span(t + hoff, len - hoff);
  return tuple;
}

// Calls `each` for every such tuple on `page`. A template: the page scan
// reads every tuple of a cluster through it.
template <typename Each>
void ForEachTupleOnPage(std::span<const uint8_t> page, Each&& each) {
  const size_t lower = static_cast<size_t>(page[12] | page[13] << 8);
  for (size_t lp = heap::kPageHeaderSize; lp + heap::kLinePointerSize <= lower; lp += heap::kLinePointerSize) {
    if (const auto tuple = TupleAt(page, lp)) each(*tuple);
  }
}

// The same over every page of `bytes`; pages that are all zeros or whose
// header is not sane are skipped, and counted in the result.
uint64_t ForEachHeapTuple(std::span<const uint8_t> bytes, uint32_t block_size,
                          const std::function<void(const HeapTuple&)>& each);

// A relation's whole main fork: the file and its .1, .2, ... segments.
Result<std::vector<uint8_t>> ReadRelation(const std::string& path_without_segment);

}  // namespace pgrescue
