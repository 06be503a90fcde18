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

#include "libcontrol/base/result.h"

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
};

// Calls `each` for every normal line pointer's tuple that lies inside its
// page; pages that are all zeros or whose header is not sane are skipped,
// and counted in the result.
uint64_t ForEachHeapTuple(std::span<const uint8_t> bytes, uint32_t block_size,
                          const std::function<void(const HeapTuple&)>& each);

// A relation's whole main fork: the file and its .1, .2, ... segments.
Result<std::vector<uint8_t>> ReadRelation(const std::string& path_without_segment);

}  // namespace pgrescue
