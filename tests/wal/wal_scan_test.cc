// The whole-WAL scan on each version's real WAL (fixture heads written out as
// segment files), timeline histories, and pg_control pointed at a checkpoint
// found in WAL, compared with the pg_control the server itself wrote.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "libcontrol/reset/from_wal.h"
#include "libcontrol/wal/wal_scan.h"
#include "tests/fixtures.h"
#include "tests/wal_fixture.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "pgrescue-walscan-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void WriteFile(const fs::path& p, std::span<const uint8_t> bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

WalScanOptions OptionsFor(const WalFixture& f, const std::string& dir, WalScanMode mode) {
  WalScanOptions o;
  o.layout = &f.shutdown.control.layout();
  o.segment_size = f.segment_size;
  o.page_size = static_cast<uint32_t>(f.shutdown.control.value(Field::kWalBlockSize));
  o.dirs = {dir};
  o.mode = mode;
  return o;
}

class WalScanFixture : public ::testing::TestWithParam<std::string> {};

// The fixture WAL goes on past pg_control.shutdown's checkpoint (the server
// was restarted for its truth file and stopped again), so the newest
// checkpoint is a later shutdown checkpoint.
TEST_P(WalScanFixture, BothModesFindTheNewestShutdownCheckpointAndTheEnd) {
  const WalFixture f = LoadWalFixture(GetParam());
  TempDir dir;
  WriteFile(fs::path(dir.path()) / WalSegmentName{1, f.segno}.ToString(f.segment_size), f.wal);
  const Lsn shutdown{f.shutdown.control.value(Field::kCheckPoint)};
  std::optional<Lsn> end;
  for (auto mode : {WalScanMode::kLatestCheckpoint, WalScanMode::kFull}) {
    auto report = ScanWal(OptionsFor(f, dir.path(), mode));
    ASSERT_TRUE(report) << report.error().ToString();
    ASSERT_NE(report->NewestUsable(), nullptr) << GetParam();
    EXPECT_GE(report->NewestUsable()->record.lsn, shutdown) << GetParam();
    EXPECT_TRUE(report->NewestUsable()->record.shutdown);
    if (mode == WalScanMode::kFull) {
      ASSERT_NE(report->Find(shutdown), nullptr) << GetParam();
      EXPECT_TRUE(report->Find(shutdown)->usable);
    }
    EXPECT_EQ(report->end.why, WalStop::kEndOfWal) << report->end.detail;
    EXPECT_GT(report->end.at, shutdown);
    if (end) {
      EXPECT_EQ(report->end.at, *end) << "both modes end at the same place";
    }
    end = report->end.at;
    EXPECT_EQ(report->segments_present, 1u);
    EXPECT_EQ(report->newest_written_segment, f.segno);
    // WAL never proves more than the shutdown checkpoint says was handed out.
    const auto& m = report->maxima;
    const auto next_xid = static_cast<uint32_t>(f.shutdown.control.value(Field::kNextXid));
    if (m.newest_xid) {
      EXPECT_LT(static_cast<int32_t>(*m.newest_xid - next_xid), 0) << GetParam();
    }
    if (m.last_commit_time) {
      const int64_t checkpoint_time = static_cast<int64_t>(f.shutdown.control.value(Field::kCheckpointTime));
      EXPECT_LE(*m.last_commit_time / 1000000 + 946684800, checkpoint_time + 1) << GetParam();
      EXPECT_GT(*m.last_commit_time / 1000000 + 946684800, checkpoint_time - 3600) << GetParam();
    }
  }
}

TEST_P(WalScanFixture, PointingTheRunningPgControlAtTheShutdownCheckpointGivesTheServersValues) {
  const WalFixture f = LoadWalFixture(GetParam());
  TempDir dir;
  WriteFile(fs::path(dir.path()) / WalSegmentName{1, f.segno}.ToString(f.segment_size), f.wal);
  auto report = ScanWal(OptionsFor(f, dir.path(), WalScanMode::kFull));
  ASSERT_TRUE(report);
  auto chosen = ChooseCheckpoint(*report, Lsn{f.shutdown.control.value(Field::kCheckPoint)});
  ASSERT_TRUE(chosen) << chosen.error().ToString();
  const ControlFile control = PointAtCheckpoint(f.running.control, *report, **chosen, 1234567890);
  const auto& layout = control.layout();
  EXPECT_EQ(control.value(Field::kCheckPoint), f.shutdown.control.value(Field::kCheckPoint));
  for (const Placement& p : layout.placements()) {
    if (layout.InCheckpoint(p)) {
      EXPECT_EQ(control.value(p.field), f.shutdown.control.value(p.field)) << GetParam() << " " << FieldName(p.field);
    }
  }
  EXPECT_EQ(control.value(Field::kState), static_cast<uint64_t>(DbState::kInProduction));
  EXPECT_EQ(control.value(Field::kTime), 1234567890u);
  EXPECT_EQ(control.value(Field::kSystemIdentifier), f.running.control.value(Field::kSystemIdentifier));
  // An LSN that is no checkpoint is refused, naming what was found.
  auto wrong = ChooseCheckpoint(*report, Lsn{f.shutdown.control.value(Field::kCheckPoint) + 8});
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("the scan found"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(AllVersions, WalScanFixture, ::testing::ValuesIn(testing::FixtureVersions()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(TimelineHistory, ParsesTheServersFormat) {
  // As PostgreSQL writes 00000003.history after two promotions.
  auto spans = ParseTimelineHistory("1\t0/3000158\tno recovery target specified\n\n"
                                    "2\t0/5000000\tat restore point \"before\"\n",
                                    3);
  ASSERT_TRUE(spans) << spans.error().ToString();
  ASSERT_EQ(spans->size(), 3u);
  EXPECT_EQ((*spans)[0].timeline, 1u);
  EXPECT_EQ((*spans)[0].end, Lsn{0x3000158});
  EXPECT_EQ((*spans)[1].begin, Lsn{0x3000158});
  EXPECT_EQ((*spans)[1].end, Lsn{0x5000000});
  EXPECT_EQ((*spans)[2].timeline, 3u);
  EXPECT_EQ((*spans)[2].begin, Lsn{0x5000000});
  EXPECT_FALSE(ParseTimelineHistory("2\t0/3000000\tx\n1\t0/4000000\ty\n", 3)) << "timelines must increase";
  EXPECT_FALSE(ParseTimelineHistory("1 garbage\n", 2));
}

TEST(TimelineHistory, SegmentsComeFromTheTimelineThatOwnsThem) {
  TempDir dir;
  const uint64_t seg = 16u << 20;
  std::vector<uint8_t> bytes(16, 0);
  // Timeline 1 up to 0/3000158; timeline 2 from the segment holding it on.
  for (const char* name : {"000000010000000000000002", "000000010000000000000003", "000000020000000000000003",
                           "000000020000000000000004", "000000010000000000000004"}) {
    WriteFile(fs::path(dir.path()) / name, bytes);
  }
  std::ofstream(fs::path(dir.path()) / "00000002.history") << "1\t0/3000158\tno recovery target specified\n";
  auto files = WalFiles::Open({dir.path()}, seg);
  ASSERT_TRUE(files) << files.error().ToString();
  EXPECT_EQ(files->timeline(), 2u);
  EXPECT_EQ(files->Find(2)->timeline, 1u);
  EXPECT_EQ(files->Find(3)->timeline, 2u) << "the switch segment is read from the new timeline";
  EXPECT_EQ(files->Find(4)->timeline, 2u) << "timeline 1's segment 4 is past its end: not on the way";
  EXPECT_EQ(files->SegmentNumbers(), (std::vector<uint64_t>{2, 3, 4}));
  // A newer timeline without its history file: refuse to guess.
  WriteFile(fs::path(dir.path()) / "000000030000000000000005", bytes);
  auto missing = WalFiles::Open({dir.path()}, seg);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("00000003.history"), std::string::npos);
}

}  // namespace
}  // namespace pgrescue
