#include "libcontrol/slru/slru_run.h"

#include <algorithm>
#include <cstddef>

namespace pgrescue {

uint64_t SegmentCount(const std::vector<SegmentSpan>& spans) {
  uint64_t n = 0;
  for (const auto& span : spans) n += span.count;
  return n;
}

std::optional<SlruRun> FindSlruRun(std::vector<uint64_t> segments, std::optional<uint64_t> segment_count) {
  std::sort(segments.begin(), segments.end());
  segments.erase(std::unique(segments.begin(), segments.end()), segments.end());
  if (segments.empty()) return std::nullopt;
  const size_t n = segments.size();
  // The run starts after the widest gap; with wrapping, the gap from the
  // largest number round to the smallest counts too. Numbering that never
  // wraps (19's members) runs from the smallest: starting after an inner gap
  // there made a "wrapping" run whose holes counted up forever.
  size_t start = 0;
  if (segment_count) {
    uint64_t widest = segments[0] + *segment_count - segments[n - 1];
    for (size_t i = 1; i < n; ++i) {
      const uint64_t gap = segments[i] - segments[i - 1];
      if (gap > widest) widest = gap, start = i;
    }
  }
  SlruRun run;
  run.first = segments[start];
  run.last = segments[(start + n - 1) % n];
  run.wraps = start != 0;
  const uint64_t space = segment_count.value_or(0);
  auto after = [space](uint64_t s) { return space ? (s + 1) % space : s + 1; };
  run.length = run.wraps ? run.last + space - run.first + 1 : run.last - run.first + 1;
  auto add = [&holes = run.holes](uint64_t from, uint64_t to) {
    if (to > from) holes.push_back({from, to - from});
  };
  for (size_t k = 0; k + 1 < n; ++k) {
    const uint64_t a = segments[(start + k) % n];
    const uint64_t b = segments[(start + k + 1) % n];
    const uint64_t s = after(a);
    if (b < s) {  // the gap passes the last number back to 0
      add(s, space);
      add(0, b);
    } else {
      add(s, b);
    }
  }
  return run;
}

}  // namespace pgrescue
