// The live segments of an SLRU form one contiguous run modulo the segment
// number space: the server truncates from the old end and extends at the new
// end. After wraparound the numerically largest segment is not the newest;
// the run is found by the largest gap instead.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace pgrescue {

// Segments first .. first + count - 1; never passes the wrap point.
struct SegmentSpan {
  uint64_t first = 0;
  uint64_t count = 0;
  bool operator==(const SegmentSpan&) const = default;
};

// Kept as spans, not one number a hole: 19's members number 2^60 segments,
// and two far-apart files make a run with that many holes.
struct SlruRun {
  uint64_t first = 0;   // oldest segment
  uint64_t last = 0;    // newest segment
  uint64_t length = 0;  // segments from first to last inclusive, holes counted
  std::vector<SegmentSpan> holes;  // gaps inside the run, oldest first
  bool wraps = false;   // the run passes from the last segment number to 0
};

// How many segments `spans` cover.
uint64_t SegmentCount(const std::vector<SegmentSpan>& spans);

// `segments` in any order, duplicates allowed; `segment_count` is where
// numbering wraps (nullopt: it never does). nullopt for no segments.
std::optional<SlruRun> FindSlruRun(std::vector<uint64_t> segments, std::optional<uint64_t> segment_count);

}  // namespace pgrescue
