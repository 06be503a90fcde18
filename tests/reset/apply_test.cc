// What a reset writes and the one keep-then-write sequence, on copies of the
// real sample cluster (PostgreSQL 15): the files kept, the WAL magic chosen,
// a failure part-way, and UndoRescue putting every byte back after both.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/reset/apply.h"
#include "libcontrol/reset/rescue.h"
#include "libcontrol/reset/reset.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;
using testing::FixturesDir;

std::map<std::string, std::string> Hashes(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = *Sha256OfFile(e.path().string());
  }
  return out;
}

class ApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    root_ = fs::temp_directory_path() / ("pgrescue-apply-" + std::to_string(getpid()) + "-" + name);
    rescue_ = root_.string() + ".rescue";
    fs::remove_all(root_);
    fs::remove_all(rescue_);
    fs::copy(FixturesDir() / "sample-cluster", root_, fs::copy_options::recursive);
    fs::create_directories(root_ / "pg_wal/archive_status");
    std::ofstream(root_ / "pg_wal/archive_status/000000010000000000000001.done").close();
    std::ofstream(root_ / "pg_wal/archive_status/junk.done").close();
    std::ofstream(root_ / "pg_wal/RECOVERYHISTORY").close();
  }
  void TearDown() override {
    fs::remove_all(root_);
    fs::remove_all(rescue_);
  }
  DataDir Scan() const {
    auto dir = ScanDataDir(root_.string(), {});
    EXPECT_TRUE(dir);
    return *dir;
  }
  Result<ResetWrites> Writes(const DataDir& dir) const {
    const ControlFile& current = dir.control->value().control;
    auto outcome = PlanReset(current, false, dir.wal, {}, 1700000000);
    EXPECT_TRUE(outcome);
    return WritesForReset(dir, current, *outcome);
  }

  fs::path root_;
  std::string rescue_;
};

TEST_F(ApplyTest, FilesToKeepArePgControlSegmentsAndTheirStatusOnly) {
  const DataDir dir = Scan();
  EXPECT_EQ(FilesToKeep(dir, 16u << 20),
            (std::vector<std::string>{"global/pg_control", "pg_wal/000000010000000000000001",
                                      "pg_wal/archive_status/000000010000000000000001.done"}));
  EXPECT_EQ(WalFilesToCopy(dir, 16u << 20),
            (std::vector<std::string>{"pg_wal/000000010000000000000001",
                                      "pg_wal/archive_status/000000010000000000000001.done"}));
}

TEST_F(ApplyTest, TheMagicIsThatOfTheServersOwnWal) {
  const DataDir dir = Scan();
  const auto head = testing::ReadBytes(root_ / "pg_wal/000000010000000000000001");
  const uint16_t written = static_cast<uint16_t>(head[0] | head[1] << 8);
  EXPECT_EQ(written, 0xD110) << "PostgreSQL 15's XLOG_PAGE_MAGIC";
  EXPECT_EQ(ChooseMagic(dir.control->value().control.layout(), dir), written);
  fs::remove(root_ / "pg_wal/000000010000000000000001");
  const DataDir without = Scan();
  EXPECT_EQ(ChooseMagic(without.control->value().control.layout(), without),
            without.control->value().control.layout().wal_page_magics().front());
}

TEST_F(ApplyTest, AResetKeepsThenWritesAndUndoPutsEveryByteBack) {
  const auto before = Hashes(root_);
  const DataDir dir = Scan();
  auto writes = Writes(dir);
  ASSERT_TRUE(writes) << writes.error().ToString();
  const Applied applied = ApplyWrites(root_.string(), rescue_, *writes);
  ASSERT_TRUE(applied.status.ok()) << applied.status.error().ToString();
  EXPECT_EQ(applied.kept, 3u);
  EXPECT_FALSE(applied.needs_undo());
  EXPECT_EQ(fs::file_size(root_ / "pg_wal/000000010000000000000002"), 16u << 20);
  EXPECT_FALSE(fs::exists(root_ / "pg_wal/000000010000000000000001"));
  EXPECT_EQ(*Sha256OfFile(rescue_ + "/files/global/pg_control"), before.at("global/pg_control"));
  auto undo = UndoRescue(rescue_);
  ASSERT_TRUE(undo) << undo.error().ToString();
  EXPECT_TRUE(undo->complete());
  EXPECT_EQ(Hashes(root_), before);
}

// A write that fails after files were kept: the folder's manifest names
// them, and undo puts them back.
TEST_F(ApplyTest, AFailureAfterKeepingNeedsUndoAndUndoRestores) {
  std::ofstream(root_ / "pg_wal/000000010000000000000002.pgrescue-tmp") << "a leftover to look at";
  const auto before = Hashes(root_);
  const DataDir dir = Scan();
  auto writes = Writes(dir);
  ASSERT_TRUE(writes) << writes.error().ToString();
  const Applied applied = ApplyWrites(root_.string(), rescue_, *writes);
  ASSERT_FALSE(applied.status.ok());
  EXPECT_TRUE(applied.needs_undo());
  EXPECT_EQ(applied.rescue_dir, fs::absolute(rescue_).lexically_normal().string());
  EXPECT_NE(applied.status.error().ToString().find("000000010000000000000002.pgrescue-tmp"), std::string::npos)
      << applied.status.error().ToString();
  EXPECT_FALSE(fs::exists(root_ / "pg_wal/000000010000000000000001")) << "kept before the failure";
  EXPECT_NE(Hashes(root_), before);
  auto undo = UndoRescue(rescue_);
  ASSERT_TRUE(undo) << undo.error().ToString();
  EXPECT_TRUE(undo->complete());
  EXPECT_EQ(Hashes(root_), before) << "the leftover stays: it was there before";
}

TEST_F(ApplyTest, NothingIsWrittenWhenTheRescueFolderCannotBeMade) {
  fs::create_directories(rescue_);
  const auto before = Hashes(root_);
  const DataDir dir = Scan();
  auto writes = Writes(dir);
  ASSERT_TRUE(writes);
  const Applied applied = ApplyWrites(root_.string(), rescue_, *writes);
  ASSERT_FALSE(applied.status.ok());
  EXPECT_FALSE(applied.needs_undo());
  EXPECT_NE(applied.status.error().message.find("already exists"), std::string::npos);
  EXPECT_EQ(Hashes(root_), before);
}

}  // namespace
}  // namespace pgrescue
