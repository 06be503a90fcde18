// The part of amcheck's verify_heapam that needs no server: every line
// pointer of a heap page and the header of every tuple it points at, in
// verify_heapam's words, so that a DBA can match them to pg_amcheck's.
//
// Which XIDs are "in the future" needs the cluster's next XID and next
// MultiXactId. Only a cleanly shut down cluster's pg_control gives them
// exactly: after a crash the pages legitimately hold XIDs assigned since the
// last checkpoint, so the caller leaves the limits unset then.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libcontrol/base/bytes.h"
#include "libcontrol/pages/heap_tuples.h"

namespace pgrescue {

struct HeapLimits {
  std::optional<uint32_t> next_xid;        // pg_control's nextXid (low 32 bits)
  uint32_t next_xid_epoch = 0;
  std::optional<uint32_t> next_multixact;  // pg_control's nextMulti
};

struct TupleProblem {
  uint16_t offset = 0;  // the line pointer's number, from 1, as the server's ctid counts
  std::string message;
};

// The line pointers of a page whose header passed CheckPage: checks each,
// appends what is wrong to `problems`, and returns the sound tuple of
// line pointer `offset` (from 1), if it has one.
std::optional<HeapTuple> CheckLinePointer(std::span<const uint8_t> page, uint16_t offset, uint16_t max_offset,
                                          const HeapLimits& limits, std::vector<TupleProblem>* problems);

// Whether line pointer `offset` is a normal one whose tuple passes every
// check; false sends it to CheckLinePointer, which says why. Inline, since
// it runs for every tuple of a cluster.
inline bool TupleIsSound(std::span<const uint8_t> page, uint16_t offset, const HeapLimits& limits) {
  using namespace heap;  // NOLINT: the format's constants
  const uint32_t item = Le32(page.data() + kPageHeaderSize + (offset - 1) * kLinePointerSize);
  const uint32_t off = item & 0x7FFF, flags = (item >> 15) & 3, len = item >> 17;
  if (flags != kLpNormal || off % kMaxAlign != 0 || len < 24 || off + len > page.size()) return false;
  const uint8_t* t = page.data() + off;
  const uint16_t infomask = Le16(t + kInfomaskAt), infomask2 = Le16(t + kInfomask2At);
  const size_t bitmap = (infomask & kHasNull) != 0 ? ((infomask2 & kNattsMask) + 7) / 8 : 0;
  const size_t expected = (kTupleHeaderSize + bitmap + ((infomask & kHasOid) != 0 ? 4 : 0) + kMaxAlign - 1) &
                          ~(kMaxAlign - 1);
  if (t[kHoffAt] != expected || t[kHoffAt] > len) return false;
  if ((infomask & kXmaxIsMulti) != 0 ? (infomask & kXmaxCommitted) != 0
                                     : Le32(t + kXmaxAt) == 0 && (infomask2 & kHotUpdated) != 0) {
    return false;
  }
  if ((infomask2 & kHeapOnly) != 0 && (infomask & kUpdated) == 0) return false;
  // XIDs at or past the next: wrapping differences, as XIDs are compared.
  auto future = [](uint32_t id, uint32_t next) { return id >= 3 && static_cast<int32_t>(id - next) >= 0; };
  if (limits.next_xid) {
    const bool frozen = (infomask & (kXminCommitted | kXminInvalid)) == (kXminCommitted | kXminInvalid);
    if (!frozen && future(Le32(t + kXminAt), *limits.next_xid)) return false;
    if ((infomask & (kXmaxIsMulti | kXmaxInvalid)) == 0 && future(Le32(t + kXmaxAt), *limits.next_xid)) return false;
  }
  if (limits.next_multixact && (infomask & kXmaxIsMulti) != 0 && Le32(t + kXmaxAt) != 0 &&
      static_cast<int32_t>(Le32(t + kXmaxAt) - *limits.next_multixact) >= 0) {
    return false;
  }
  return true;
}

// The number of line pointers pd_lower says the page has.
inline uint16_t MaxOffset(std::span<const uint8_t> page) {
  const size_t lower = static_cast<size_t>(page[12] | page[13] << 8);
  return lower < heap::kPageHeaderSize ? 0
                                       : static_cast<uint16_t>((lower - heap::kPageHeaderSize) / heap::kLinePointerSize);
}

// Checks every line pointer of a heap page and calls `each` for every sound
// tuple. A template: the page scan runs it over every heap page of a cluster.
template <typename Each>
void CheckHeapPage(std::span<const uint8_t> page, const HeapLimits& limits, std::vector<TupleProblem>* problems,
                   Each&& each) {
  const uint16_t max_offset = MaxOffset(page);
  for (uint16_t offset = 1; offset <= max_offset; ++offset) {
    if (TupleIsSound(page, offset, limits)) {
      if (const auto tuple = TupleAt(page, heap::kPageHeaderSize + (offset - 1) * heap::kLinePointerSize)) each(*tuple);
    } else if (const auto tuple = CheckLinePointer(page, offset, max_offset, limits, problems)) {
      each(*tuple);
    }
  }
}

// How many rows a damaged heap page held, by its line pointers, when pd_lower
// is plausible; nullopt when it is not, and the count is unknowable.
std::optional<uint32_t> RowsByLinePointers(std::span<const uint8_t> page);

// The same when the header itself is garbage but the line pointers after it
// are intact: they are read in order while each normal one points at a
// tuple that lies wholly in the page past the pointers read so far, up to
// the lowest such tuple (where the pointer array must end). nullopt when
// not even the first can be read that way.
std::optional<uint32_t> RowsByLinePointersPastHeader(std::span<const uint8_t> page);

}  // namespace pgrescue
