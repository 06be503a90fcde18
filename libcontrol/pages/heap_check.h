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
    if (const auto tuple = CheckLinePointer(page, offset, max_offset, limits, problems)) each(*tuple);
  }
}

// How many rows a damaged heap page held, by its line pointers, when pd_lower
// is plausible; nullopt when it is not, and the count is unknowable.
std::optional<uint32_t> RowsByLinePointers(std::span<const uint8_t> page);

}  // namespace pgrescue
