// PlanReset on its own: each version's real shut-down pg_control and WAL
// listing against that version's own pg_resetwal -n (pg_resetxlog -n).
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <fstream>

#include "libcontrol/control/control_file.h"
#include "libcontrol/reset/reset.h"
#include "libcontrol/wal/wal_record.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

using testing::FixturesDir;

struct Cluster {
  ControlFile control;
  DirListing wal;
};

// pg_control.shutdown and the WAL files listing.txt names (pg_wal or pg_xlog).
Cluster Load(const std::string& version) {
  auto read = ParseControlFile(testing::ReadBytes(FixturesDir() / version / "pg_control.shutdown"));
  EXPECT_TRUE(read.ok()) << version;
  const std::string wal_dir(read->control.layout().wal_dir());
  DirListing wal;
  wal.path = wal_dir;
  wal.exists = true;
  std::ifstream listing(FixturesDir() / version / "listing.txt");
  std::string path;
  uint64_t size;
  while (listing >> path >> size) {
    if (path.starts_with(wal_dir + "/") && path.find('/', wal_dir.size() + 1) == std::string::npos) {
      wal.Add(path.substr(wal_dir.size() + 1));
    }
  }
  return {read->control, wal};
}

class PlanResetFixture : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

TEST_P(PlanResetFixture, DryRunReportIsThePgResetwalOfTheVersion) {
  const Cluster c = Load(GetParam());
  ASSERT_FALSE(c.wal.entries.empty()) << GetParam();
  auto outcome = PlanReset(c.control, false, c.wal, {}, 1700000000);
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  EXPECT_EQ(outcome->dry_run_report, *testing::ReadText(FixturesDir() / GetParam() / "pg_resetwal-n.shutdown.txt"));
  // "First log segment after reset: 000000010000000000000002" in every one.
  EXPECT_EQ(outcome->new_segment, 2u);
  EXPECT_EQ(outcome->segment_size, c.control.value(Field::kWalSegmentSize));
}

TEST_P(PlanResetFixture, NewPgControlStartsTheNewWalAndKeepsTheCounters) {
  const Cluster c = Load(GetParam());
  auto outcome = PlanReset(c.control, false, c.wal, {}, 1700000000);
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  const ControlFile& n = outcome->control;
  const uint64_t seg = c.control.value(Field::kWalSegmentSize);
  EXPECT_EQ(n.value(Field::kRedo), 2 * seg + kWalLongPageHeaderSize);
  EXPECT_EQ(n.value(Field::kCheckPoint), n.value(Field::kRedo));
  EXPECT_EQ(n.value(Field::kState), static_cast<uint64_t>(DbState::kShutdowned));
  EXPECT_EQ(n.value(Field::kTime), 1700000000u);
  for (Field f : {Field::kSystemIdentifier, Field::kNextXid, Field::kNextOid, Field::kNextMulti,
                  Field::kNextMultiOffset, Field::kOldestXid, Field::kThisTimeLineId, Field::kCatalogVersion}) {
    EXPECT_EQ(n.value(f), c.control.value(f)) << GetParam() << " " << FieldName(f);
  }
}

TEST_P(PlanResetFixture, GivenValuesAreSetAndReported) {
  const Cluster c = Load(GetParam());
  ResetRequest r;
  r.next_oid = 100000;
  r.next_wal_file = "000000010000000000000009";
  auto outcome = PlanReset(c.control, false, c.wal, r, 1700000000);
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  EXPECT_EQ(outcome->control.value(Field::kNextOid), 100000u);
  EXPECT_EQ(outcome->new_segment, 9u);
  EXPECT_NE(outcome->dry_run_report.find("000000010000000000000009"), std::string::npos);
  EXPECT_NE(outcome->dry_run_report.find("100000"), std::string::npos);
}

TEST_P(PlanResetFixture, GuessedValuesAreHeadedAsPgResetwalHeadsThem) {
  const Cluster c = Load(GetParam());
  auto outcome = PlanReset(c.control, true, c.wal, {}, 1700000000);
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  EXPECT_TRUE(outcome->dry_run_report.starts_with("Guessed pg_control values:\n")) << outcome->dry_run_report;
}

TEST_P(PlanResetFixture, ValuesTheVersionRejectsAreErrors) {
  const Cluster c = Load(GetParam());
  ResetRequest zero_oid;
  zero_oid.next_oid = 0;
  auto refused = PlanReset(c.control, false, c.wal, zero_oid, 1700000000);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("must not be 0"), std::string::npos) << refused.error().message;
}

INSTANTIATE_TEST_SUITE_P(GoldenVersions, PlanResetFixture,
                         ::testing::Values("pg94", "pg95", "pg96", "pg15", "pg19"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(ParseResetRequest, NumbersAsPgResetwalReadsThemAndErrorsNameTheOption) {
  ResetOptionText t;
  t.x = "0x100000";
  t.m = "5,1";
  t.c = "010,20";
  auto r = ParseResetRequest(t);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(*r->next_xid, 0x100000u);
  EXPECT_EQ(*r->next_multi, 5u);
  EXPECT_EQ(*r->oldest_multi, 1u);
  EXPECT_EQ(*r->oldest_commit_ts, 8u) << "a leading 0 is octal, as strtoul base 0 reads it";
  EXPECT_EQ(*r->newest_commit_ts, 20u);
  EXPECT_TRUE(t.any_value());
  ResetOptionText bad;
  bad.O = "12abc";
  EXPECT_EQ(ParseResetRequest(bad).error().message, "invalid argument for option -O: \"12abc\"");
  ResetOptionText half;
  half.m = "5";
  EXPECT_NE(ParseResetRequest(half).error().message.find("next,oldest"), std::string::npos);
  EXPECT_FALSE(ResetOptionText{}.any_value());
}

}  // namespace
}  // namespace pgrescue
