// The one WAL geometry: pg_control, else a WAL long page header, else (when
// a guess will do) the most common segment file size, else 16 MB.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "libcontrol/base/wal_names.h"
#include "libcontrol/cluster/control_trust.h"
#include "libcontrol/cluster/wal_geometry.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;
using testing::FixturesDir;

class WalGeometryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("pgrescue-geometry-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "global");
    fs::create_directories(root_ / "pg_wal");
    fs::copy_file(FixturesDir() / "pg15/PG_VERSION", root_ / "PG_VERSION");
  }
  void TearDown() override { fs::remove_all(root_); }
  void Segment(const std::string& name, uint64_t size) {
    std::ofstream(root_ / "pg_wal" / name).close();
    fs::resize_file(root_ / "pg_wal" / name, size);
  }
  Result<ClusterGeometry> Geometry(GeometryFallback fallback) {
    dir_ = std::move(ScanDataDir(root_.string(), {})).value();
    return WorkOutGeometry(dir_, *FindLayoutByMajor("15"), JudgeControl(dir_, nullptr).trusted, fallback);
  }

  fs::path root_;
  DataDir dir_;
};

TEST_F(WalGeometryTest, TrustedPgControlDecides) {
  fs::copy_file(FixturesDir() / "pg15/pg_control.shutdown", root_ / "global/pg_control");
  Segment("000000010000000000000001", 1 << 20);  // its size says nothing then
  const auto g = Geometry(GeometryFallback::kLongPageHeader);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->segment_size, 16u << 20);
  EXPECT_EQ(g->segment_size_source, "pg_control");
  EXPECT_EQ(g->block_size, 8192u);
  EXPECT_EQ(g->page_size, 8192u);
  EXPECT_EQ(g->why, (std::vector<std::string>{"16.0 MB segments, 8192-byte pages: pg_control"}));
}

TEST_F(WalGeometryTest, ALongPageHeaderStatesTheSegmentSize) {
  // A 64 MB segment cut short: its size says nothing, its header does.
  const std::string name = WalSegmentName{1, 5}.ToString(64ull << 20);
  Segment(name, 8192);
  std::fstream f(root_ / "pg_wal" / name, std::ios::in | std::ios::out | std::ios::binary);
  const uint8_t header[40] = {0x10, 0xD1, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 1, 0, 0, 0, 0, 0, 0, 0,
                              0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 4, 0, 0x20, 0, 0};
  f.write(reinterpret_cast<const char*>(header), sizeof header);
  f.close();
  const auto g = Geometry(GeometryFallback::kLongPageHeader);
  ASSERT_TRUE(g.ok()) << g.error().ToString();
  EXPECT_EQ(g->segment_size, 64ull << 20);
  EXPECT_EQ(g->segment_size_source, "the long page header of " + name);
  ASSERT_TRUE(g->header);
  EXPECT_EQ(g->header->header.system_identifier, 0x0807060504030201u);
  EXPECT_TRUE(g->block_size_assumed);
}

TEST_F(WalGeometryTest, WithoutAHeaderOnlyAGuess) {
  Segment("000000010000000000000001", 1 << 20);
  Segment("000000010000000000000002", 1 << 20);
  Segment("000000010000000000000003", 16 << 20);
  EXPECT_FALSE(Geometry(GeometryFallback::kLongPageHeader).ok());
  const auto g = Geometry(GeometryFallback::kBestGuess);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->segment_size, 1u << 20);
  EXPECT_EQ(g->segment_size_source, "the size of the WAL segment files");
  EXPECT_FALSE(g->segment_size_assumed);
}

TEST_F(WalGeometryTest, NothingAtAllAssumesSixteenMegabytes) {
  const auto g = Geometry(GeometryFallback::kBestGuess);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->segment_size, 16u << 20);
  EXPECT_TRUE(g->segment_size_assumed);
  EXPECT_EQ(g->segment_size_source, "assumed: the default (no readable pg_control or WAL)");
}

}  // namespace
}  // namespace pgrescue
