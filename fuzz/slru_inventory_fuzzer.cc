// Any list of names as pg_xact, pg_multixact/offsets, pg_multixact/members
// or pg_commit_ts, in the SLRU geometries of 9.4 to 19 (Geometries()):
// never crashes; every file is a segment (under its own name) or unknown,
// never both; the run starts and ends at segments, and its length is its
// segments plus holes, no hole being a segment.
// Seeds: the fixtures' SLRU listings (listing.txt), one directory a file.
#include <cstdlib>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "fuzz/listing_input.h"
#include "libcontrol/control/control_layout.h"
#include "libcontrol/plan/evidence.h"

namespace {

void Check(const pgrescue::DataDir& dir, const pgrescue::DirListing& listing, pgrescue::SlruKind kind,
           const pgrescue::ControlLayout& layout, uint32_t block_size) {
  const auto s = pgrescue::ListSlru(dir, listing, kind, layout, block_size);
  if (s.segments.size() + s.unknown.size() != listing.entries.size()) std::abort();
  for (const auto& [segment, name] : s.segments) {
    if (s.layout->FileName(segment) != name) std::abort();
  }
  if (s.run.has_value() != !s.segments.empty()) std::abort();
  if (!s.run) return;
  if (!s.segments.contains(s.run->first) || !s.segments.contains(s.run->last)) std::abort();
  if (s.run->length != s.segments.size() + pgrescue::SegmentCount(s.run->holes)) std::abort();
  // Every hole is a non-empty span with no segment in it, inside the run,
  // in the run's order (back to 0 once, if the run wraps), not touching the
  // span before it and not passing the wrap point. With the length above,
  // that makes the holes exactly the missing segments.
  const std::optional<uint64_t> space = s.layout->segment_count();
  uint64_t at = s.run->first;
  bool wrapped = false;
  for (const auto& hole : s.run->holes) {
    if (hole.count == 0 || (space && hole.first + hole.count > *space)) std::abort();
    const auto next = s.segments.lower_bound(hole.first);
    if (next != s.segments.end() && next->first < hole.first + hole.count) std::abort();
    if (hole.first <= at) {
      if (!s.run->wraps || wrapped) std::abort();
      wrapped = true;
    }
    if ((wrapped || !s.run->wraps) && hole.first + hole.count > s.run->last) std::abort();
    at = hole.first + hole.count;
  }
}

// What a listing reads as depends only on how segments are named and where
// their numbering wraps: one (kind, version, page size) of each such
// geometry, not all 88.
struct Geometry {
  pgrescue::SlruKind kind;
  const pgrescue::ControlLayout* layout;
  uint32_t block_size;
};

const std::vector<Geometry>& Geometries() {
  static const auto geometries = [] {
    std::vector<Geometry> out;
    std::set<std::pair<std::optional<uint64_t>, size_t>> seen;
    for (uint32_t block_size : {8192u, 32768u}) {
      for (const auto& layout : pgrescue::AllControlLayouts()) {
        for (auto kind : {pgrescue::SlruKind::kXact, pgrescue::SlruKind::kMultiXactOffsets,
                          pgrescue::SlruKind::kMultiXactMembers, pgrescue::SlruKind::kCommitTs}) {
          const pgrescue::SlruLayout slru(kind, layout, block_size);
          if (seen.insert({slru.segment_count(), slru.FileName(0).size()}).second) {
            out.push_back({kind, &layout, block_size});
          }
        }
      }
    }
    return out;
  }();
  return geometries;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pgrescue::DataDir dir;
  dir.root = "/nonexistent";
  const auto listing = pgrescue_fuzz::ListingFromInput(data, size, "/nonexistent/slru");
  for (const auto& g : Geometries()) Check(dir, listing, g.kind, *g.layout, g.block_size);
  return 0;
}
