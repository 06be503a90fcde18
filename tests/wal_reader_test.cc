// The WAL reader on the servers' own WAL (fixture heads, zero-padded to the
// segment size) and on damaged copies of it.
#include <gtest/gtest.h>

#include "libcontrol/control_file.h"
#include "libcontrol/wal_names.h"
#include "libcontrol/wal_reader.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

using testing::FixturesDir;

class MemorySource : public WalSegmentSource {
 public:
  MemorySource(uint64_t segno, std::vector<uint8_t> bytes) : segno_(segno), bytes_(std::move(bytes)) {}
  std::optional<std::span<const uint8_t>> Segment(uint32_t, uint64_t segno) override {
    if (segno != segno_) return std::nullopt;
    return std::span(bytes_);
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  uint64_t segno_;
  std::vector<uint8_t> bytes_;
};

struct Fixture {
  ControlFileRead running;
  ControlFileRead shutdown;
  uint64_t segment_size;
  uint64_t segno;
  std::vector<uint8_t> wal;
};

Fixture Load(const std::string& v) {
  auto running = ParseControlFile(testing::ReadBytes(FixturesDir() / v / "pg_control.running"));
  auto shutdown = ParseControlFile(testing::ReadBytes(FixturesDir() / v / "pg_control.shutdown"));
  const uint64_t seg = shutdown->control.value(Field::kWalSegmentSize);
  const uint64_t segno = SegmentNumberOf(Lsn{shutdown->control.value(Field::kRedo)}, seg);
  auto wal = testing::Gunzip(FixturesDir() / v / ("wal." + WalSegmentName{1, segno}.ToString(seg) + ".head.gz"));
  wal.resize(seg, 0);
  return {std::move(*running), std::move(*shutdown), seg, segno, std::move(wal)};
}

class WalReaderFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(WalReaderFixture, FindsTheShutdownCheckpointWithPgControlsBody) {
  Fixture f = Load(GetParam());
  const auto& layout = f.shutdown.control.layout();
  MemorySource source(f.segno, f.wal);
  WalReader reader(layout, f.segment_size, static_cast<uint32_t>(f.shutdown.control.value(Field::kWalBlockSize)),
                   source);
  int records = 0, checkpoints = 0;
  std::optional<WalRecord> shutdown_checkpoint;
  std::vector<uint8_t> body;
  const Lsn target{f.shutdown.control.value(Field::kCheckPoint)};
  const auto end = reader.Scan(Lsn{f.running.control.value(Field::kRedo)}, 1, std::nullopt, [&](const WalRecord& r) {
    ++records;
    const auto b = CheckpointBody(layout, r);
    if (!b.empty()) ++checkpoints;
    if (r.lsn == target) {
      shutdown_checkpoint = r;
      body.assign(b.begin(), b.end());
    }
    return true;
  });
  EXPECT_EQ(end.why, WalStop::kEndOfWal) << end.detail << " at " << FormatLsn(end.at);
  EXPECT_GT(end.at, target);
  ASSERT_TRUE(shutdown_checkpoint) << "no record at " << FormatLsn(target) << " after " << records << " records";
  EXPECT_EQ(shutdown_checkpoint->info & 0xF0, 0x00);  // XLOG_CHECKPOINT_SHUTDOWN
  ASSERT_EQ(body.size(), layout.checkpoint_size());
  // The record's body is what pg_control copied: compare field by field.
  for (const Placement& p : layout.placements()) {
    if (p.offset < layout.checkpoint_offset() || p.offset >= layout.checkpoint_offset() + layout.checkpoint_size()) {
      continue;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < p.size; ++i) v |= uint64_t{body[p.offset - layout.checkpoint_offset() + i]} << (8 * i);
    EXPECT_EQ(v, f.shutdown.control.value(p.field)) << GetParam() << " " << FieldName(p.field);
  }
  EXPECT_GE(checkpoints, 2) << "the running checkpoint and the shutdown checkpoint";
  std::cout << "[ wal     ] " << GetParam() << ": " << records << " records, " << checkpoints
            << " checkpoints, end of WAL at " << FormatLsn(end.at) << "\n";
}

TEST_P(WalReaderFixture, StopsAtDamageAndSaysWhy) {
  Fixture f = Load(GetParam());
  const auto& layout = f.shutdown.control.layout();
  const uint32_t page = static_cast<uint32_t>(f.shutdown.control.value(Field::kWalBlockSize));
  const Lsn start{f.running.control.value(Field::kRedo)};
  const uint64_t target = f.shutdown.control.value(Field::kCheckPoint);
  auto scan = [&](std::vector<uint8_t> wal) {
    MemorySource source(f.segno, std::move(wal));
    WalReader reader(layout, f.segment_size, page, source);
    return reader.Scan(start, 1, std::nullopt, [](const WalRecord&) { return true; });
  };
  // A flipped byte inside the shutdown checkpoint's body (past the 24- or
  // 32-byte header; 9.4's header padding is not covered by the CRC).
  auto bad_crc = f.wal;
  bad_crc[target % f.segment_size + 40] ^= 0x40;
  auto end = scan(bad_crc);
  EXPECT_EQ(end.why, WalStop::kBadCrc) << end.detail;
  EXPECT_EQ(end.at.value, target);
  // Wrong magic on the checkpoint's page.
  auto bad_magic = f.wal;
  const uint64_t page_at = target % f.segment_size - target % page;
  bad_magic[page_at] ^= 0xFF;
  end = scan(bad_magic);
  if (page_at != start.value % f.segment_size - start.value % page) {
    EXPECT_EQ(end.why, WalStop::kBadPageHeader) << end.detail;
  }
  // A torn page: everything from the checkpoint's page on is zero.
  auto torn = f.wal;
  std::fill(torn.begin() + static_cast<std::ptrdiff_t>(page_at), torn.end(), 0);
  end = scan(torn);
  EXPECT_TRUE(end.why == WalStop::kEndOfWal || end.why == WalStop::kBadPageHeader) << end.detail;
  EXPECT_LE(end.at.value, target);
}

INSTANTIATE_TEST_SUITE_P(AllVersions, WalReaderFixture, ::testing::ValuesIn(testing::FixtureVersions()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace pgrescue
