// A version's fixture WAL: the head of the segment holding the running
// cluster's redo point, zero-padded to the segment size, with the running and
// shut-down pg_control it belongs to.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "libcontrol/control/control_file.h"
#include "libcontrol/base/wal_names.h"
#include "tests/fixtures.h"

namespace pgrescue {

struct WalFixture {
  ControlFileRead running;
  ControlFileRead shutdown;
  uint64_t segment_size;
  uint64_t segno;
  std::vector<uint8_t> wal;
};

inline WalFixture LoadWalFixture(const std::string& v) {
  auto running = ParseControlFile(testing::ReadBytes(testing::FixturesDir() / v / "pg_control.running"));
  auto shutdown = ParseControlFile(testing::ReadBytes(testing::FixturesDir() / v / "pg_control.shutdown"));
  const uint64_t seg = shutdown->control.value(Field::kWalSegmentSize);
  const uint64_t segno = SegmentNumberOf(Lsn{shutdown->control.value(Field::kRedo)}, seg);
  auto wal = testing::Gunzip(testing::FixturesDir() / v / ("wal." + WalSegmentName{1, segno}.ToString(seg) + ".head.gz"));
  wal.resize(seg, 0);
  return {std::move(*running), std::move(*shutdown), seg, segno, std::move(wal)};
}

}  // namespace pgrescue
