// Any bytes as the first pages of a 1 MB WAL segment of any version: the
// reader never crashes and always stops with a reason; decoding what it
// hands over (payloads, maxima, checkpoints, the first record start) never
// reads out of bounds.
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "libcontrol/control/control_layout.h"
#include "libcontrol/wal/wal_decode.h"
#include "libcontrol/wal/wal_reader.h"
#include "libcontrol/wal/wal_scan.h"

namespace {

class FuzzSource : public pgrescue::WalSegmentSource {
 public:
  explicit FuzzSource(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  std::optional<std::span<const uint8_t>> Segment(uint32_t, uint64_t segno) override {
    if (segno != 1) return std::nullopt;
    return bytes_;
  }

 private:
  std::span<const uint8_t> bytes_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto layouts = pgrescue::AllControlLayouts();
  const auto& layout = layouts[data[0] % layouts.size()];
  constexpr uint64_t kSegment = 1u << 20;
  // One segment for every input, zeroed only where the last input wrote:
  // a fresh megabyte each time cost most of the run.
  static std::vector<uint8_t> segment(kSegment, 0);
  static size_t dirty = 0;
  std::memset(segment.data(), 0, dirty);
  dirty = std::min<size_t>(size - 1, kSegment);
  std::memcpy(segment.data(), data + 1, dirty);
  (void)pgrescue::FirstRecordStart(segment, 1, kSegment, 8192, layout);
  FuzzSource source(segment);
  pgrescue::WalMaxima maxima;
  pgrescue::WalReader reader(layout, kSegment, 8192, source);
  size_t records = 0;
  const auto end = reader.Scan(pgrescue::Lsn{kSegment + 40}, 1, std::nullopt, [&](const pgrescue::WalRecord& r) {
    (void)pgrescue::DecodeCheckpoint(layout, r, 1);
    (void)pgrescue::RecordMainData(layout, r);
    maxima.Observe(layout, r);
    return ++records < 100000;
  });
  if (end.detail.empty()) std::abort();
  return 0;
}
