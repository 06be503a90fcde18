// The computed layouts against the offsets PostgreSQL's own headers give
// (compiled offsetof tables in the project's format fact sheet).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "libcontrol/control/control_layout.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

struct Expect {
  const char* major;
  Field field;
  uint16_t offset;
};

TEST(ControlLayout, OffsetsMatchTheHeaders) {
  const Expect cases[] = {
      {"9.4", Field::kUnloggedLsn, 120},   {"9.4", Field::kFloatFormat, 192},
      {"9.4", Field::kDataChecksumVersion, 236}, {"9.5", Field::kTrackCommitTimestamp, 196},
      {"9.5", Field::kOldestActiveXid, 120}, {"10", Field::kMockAuthNonce, 256},
      {"10", Field::kFloat4ByVal, 248},   {"11", Field::kRedo, 40},
      {"11", Field::kNextXid, 64},        {"11", Field::kNextXidEpoch, 60},
      {"11", Field::kMockAuthNonce, 248}, {"12", Field::kNextXid, 64},
      {"12", Field::kNextXidEpoch, 68},   {"12", Field::kNextOid, 72},
      {"12", Field::kMaxWalSenders, 188}, {"15", Field::kCheckpointTime, 104},
      {"15", Field::kFloat8ByVal, 248},   {"17", Field::kCheckpointWalLevel, 60},
      {"18", Field::kDefaultCharSignedness, 256}, {"18", Field::kMockAuthNonce, 257},
      {"19", Field::kNextXid, 72},        {"19", Field::kNextMultiOffset, 88},
      {"19", Field::kSlruPagesPerSegment, 232}, {"19", Field::kMockAuthNonce, 269},
  };
  for (const auto& c : cases) {
    const ControlLayout* l = FindLayoutByMajor(c.major);
    ASSERT_NE(l, nullptr) << c.major;
    const Placement* p = l->Find(c.field);
    ASSERT_NE(p, nullptr) << c.major << " " << FieldName(c.field);
    EXPECT_EQ(p->offset, c.offset) << c.major << " " << FieldName(c.field);
  }
}

TEST(ControlLayout, CrcOffsetsAndSizes) {
  const struct { const char* major; uint16_t crc; uint16_t size; } cases[] = {
      {"9.4", 240, 248}, {"9.5", 256, 264}, {"9.6", 256, 264}, {"10", 288, 296},
      {"11", 280, 288},  {"12", 288, 296},  {"13", 288, 296},  {"16", 288, 296},
      {"17", 288, 296},  {"18", 292, 296},  {"19", 304, 312}};
  for (const auto& c : cases) {
    const ControlLayout* l = FindLayoutByMajor(c.major);
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(l->crc_offset(), c.crc) << c.major;
    EXPECT_EQ(l->struct_size(), c.size) << c.major;
  }
}

TEST(ControlLayout, CatalogVersionRangesTileWithoutGaps) {
  const auto layouts = AllControlLayouts();
  for (size_t i = 1; i < layouts.size(); ++i) {
    EXPECT_EQ(layouts[i].catversion_first(), layouts[i - 1].catversion_last() + 1) << layouts[i].major();
  }
}

// The version table is the one list of supported versions: the fixtures and
// the real servers the tests run follow it.
TEST(ControlLayout, FixtureFoldersAreTheVersionTable) {
  std::set<std::string> folders;
  for (const auto& e : std::filesystem::directory_iterator(testing::FixturesDir())) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name.rfind("pg", 0) == 0) folders.insert(name);
  }
  const auto versions = testing::FixtureVersions();
  EXPECT_EQ(folders, std::set<std::string>(versions.begin(), versions.end()));
  EXPECT_EQ(versions.front(), "pg94");
  EXPECT_EQ(versions.back(), "pg19");
}

TEST(ControlLayout, EveryTestServerIsInTheVersionTable) {
  std::ifstream in(PGRESCUE_SERVERS_LIST);
  ASSERT_TRUE(in) << PGRESCUE_SERVERS_LIST;
  std::vector<std::string> majors;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string major, package;
    fields >> major >> package;
    EXPECT_EQ(package.substr(0, package.find('.')), major) << line;
    EXPECT_NE(FindLayoutByMajor(major), nullptr) << line;
    majors.push_back(major);
  }
  EXPECT_EQ(majors, (std::vector<std::string>{"10", "11", "12", "13", "14", "15", "16", "17", "18"}));
}

// Each rule against the pg_resetwal.c / headers of the versions around its
// threshold.
TEST(VersionRules, FollowEachVersionsSource) {
  auto rules = [](const char* major) { return FindLayoutByMajor(major)->rules(); };
  EXPECT_FALSE(rules("9.5").reset_has_oldest_xid_option);
  EXPECT_TRUE(rules("9.6").reset_has_oldest_xid_option);
  EXPECT_TRUE(rules("9.5").reset_next_xid_moves_oldest);
  EXPECT_FALSE(rules("9.6").reset_next_xid_moves_oldest);
  EXPECT_TRUE(rules("13").reset_next_xid_reports_oldest);
  EXPECT_FALSE(rules("14").reset_next_xid_reports_oldest);
  EXPECT_FALSE(rules("10").reset_has_wal_segsize_option);
  EXPECT_TRUE(rules("11").reset_has_wal_segsize_option);
  EXPECT_EQ(rules("11").reset_min_next_xid, 1u);
  EXPECT_EQ(rules("12").reset_min_next_xid, 3u);
  EXPECT_EQ(rules("16").reset_min_commit_ts_xid, 2u);
  EXPECT_EQ(rules("17").reset_min_commit_ts_xid, 3u);
  EXPECT_TRUE(rules("14").reset_rejects_zero_next_multi);
  EXPECT_FALSE(rules("15").reset_rejects_zero_next_multi);
  EXPECT_FALSE(rules("18").reset_rejects_zero_next_multi);
  EXPECT_TRUE(rules("19").reset_rejects_zero_next_multi);
  EXPECT_TRUE(rules("14").reset_rejects_max_multi_offset);
  EXPECT_FALSE(rules("15").reset_rejects_max_multi_offset);
  EXPECT_EQ(rules("9.6").reset_done_message, "Transaction log reset");
  EXPECT_EQ(rules("10").reset_done_message, "Write-ahead log reset");
  EXPECT_FALSE(rules("18").multixact_offsets_64bit);
  EXPECT_TRUE(rules("19").multixact_offsets_64bit);
  EXPECT_EQ(rules("14").wal_image_compressed_mask, 0x02);
  EXPECT_EQ(rules("15").wal_image_compressed_mask, 0x1C);
  EXPECT_EQ(rules("11").initial_unlogged_lsn, 1u);
  EXPECT_EQ(rules("12").initial_unlogged_lsn, 1000u);
  EXPECT_EQ(rules("9.5").default_wal_level, "minimal");
  EXPECT_EQ(rules("9.6").default_wal_level, "replica");
  EXPECT_EQ(FindLayoutByMajor("9.6")->wal_dir(), "pg_xlog");
  EXPECT_EQ(FindLayoutByMajor("10")->wal_dir(), "pg_wal");
  EXPECT_EQ(FindLayoutByMajor("9.6")->xact_dir(), "pg_clog");
  EXPECT_EQ(FindLayoutByMajor("10")->xact_dir(), "pg_xact");
}

}  // namespace
}  // namespace pgrescue
