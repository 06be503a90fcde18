// Commit, abort and prepare records decoded from real PostgreSQL 15 WAL
// (fixtures/xact-records/pg15): every outcome, its transaction and its
// subtransactions, equal to pg_waldump 15's reading of the same segment.
// The workload covers subtransactions committed, rolled back to a savepoint
// and released, COMMIT / ROLLBACK PREPARED, a transaction left prepared with a
// subtransaction and a long GID, and records carrying dropped relations and
// statistics.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "libcontrol/control/control_file.h"
#include "libcontrol/wal/wal_scan.h"
#include "libcontrol/wal/xact_outcome.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

std::string KindName(XactOutcomeKind k) {
  return k == XactOutcomeKind::kCommit ? "commit" : k == XactOutcomeKind::kAbort ? "abort" : "prepare";
}

TEST(XactOutcome, EqualsPgWaldumpOnRealWal) {
  const fs::path fixture = testing::FixturesDir() / "xact-records" / "pg15";
  auto control = ParseControlFile(testing::ReadBytes(fixture / "pg_control"));
  ASSERT_TRUE(control.ok());
  const ControlLayout& layout = control->control.layout();
  const uint64_t segment_size = control->control.value(Field::kWalSegmentSize);

  std::string tmpl = (fs::temp_directory_path() / "pgrescue-xact-XXXXXX").string();
  const fs::path dir = mkdtemp(tmpl.data());
  auto wal = testing::Gunzip(fixture / "000000010000000000000001.head.gz");
  wal.resize(segment_size, 0);
  std::ofstream(dir / "000000010000000000000001", std::ios::binary)
      .write(reinterpret_cast<const char*>(wal.data()), static_cast<std::streamsize>(wal.size()));

  WalScanOptions o;
  o.layout = &layout;
  o.segment_size = segment_size;
  o.dirs = {dir.string()};
  o.mode = WalScanMode::kFull;
  std::ostringstream decoded;
  bool any_unknown = false;
  o.each_record = [&](const WalRecord& r) {
    auto outcome = DecodeXactOutcome(layout, r);
    if (!outcome) return;
    any_unknown |= outcome->subxacts_unknown;
    decoded << fmt::format("{:X}/{:08X} ", r.lsn.value >> 32, r.lsn.value & 0xFFFFFFFF) << KindName(outcome->kind);
    for (uint32_t x : outcome->xids) decoded << " " << x;
    decoded << "\n";
  };
  auto report = ScanWal(o);
  fs::remove_all(dir);
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(report->end.why, WalStop::kEndOfWal);
  EXPECT_FALSE(any_unknown);
  const auto expected = testing::ReadText(fixture / "outcomes.txt");
  ASSERT_TRUE(expected.has_value());
  EXPECT_EQ(decoded.str(), *expected);
}

// A record for another resource manager, and 9.4 (whose formats are not
// read), give nothing.
TEST(XactOutcome, OnlyTransactionRecordsFromNinePointFive) {
  std::vector<uint8_t> bytes(24 + 8, 0);
  WalRecord r;
  r.rmid = 0;
  r.xid = 700;
  r.bytes = bytes;
  const auto* v15 = FindLayoutByMajor("15");
  const auto* v94 = FindLayoutByMajor("9.4");
  ASSERT_NE(v15, nullptr);
  ASSERT_NE(v94, nullptr);
  EXPECT_FALSE(DecodeXactOutcome(*v15, r).has_value());
  r.rmid = 1;
  EXPECT_FALSE(DecodeXactOutcome(*v94, r).has_value());
}

}  // namespace
}  // namespace pgrescue
