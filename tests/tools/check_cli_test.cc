// pgrescue-check end to end on a copy of the sample cluster (pg_control
// trusted, data checksums off, so page headers are what is checked): exit
// codes, the text and JSON reports, and bad usage.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "libcontrol/base/bytes.h"
#include "tests/fixtures.h"
#include "tests/run_command.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;

const std::string kCheck = PGRESCUE_CHECK;

// An empty heap page as the server writes it: LSN, pd_lower 24,
// pd_upper = pd_special = 8192, layout version 4.
std::vector<uint8_t> EmptyPage(uint32_t lsn) {
  std::vector<uint8_t> p(8192, 0);
  StoreLittleEndian(p.data() + 4, 4, lsn);
  StoreLittleEndian(p.data() + 12, 2, 24);
  StoreLittleEndian(p.data() + 14, 2, 8192);
  StoreLittleEndian(p.data() + 16, 2, 8192);
  StoreLittleEndian(p.data() + 18, 2, 8192 | 4);
  return p;
}

void Write(const fs::path& p, const std::vector<std::vector<uint8_t>>& pages, size_t extra = 0) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  for (const auto& page : pages) out.write(reinterpret_cast<const char*>(page.data()), 8192);
  out << std::string(extra, 'x');
}

class CheckCli : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(copy_.path() / "pg_tblspc");
    Write(copy_.path() / "global/1262", {EmptyPage(0x100)});
    Write(copy_.path() / "base/5/16384", {EmptyPage(0x200), EmptyPage(0x201), std::vector<uint8_t>(8192, 0)});
  }
  const fs::path& dir() const { return copy_.path(); }
  testing::SampleClusterCopy copy_{"check-cli"};
};

TEST_F(CheckCli, CleanClusterExitsZero) {
  const auto run = RunCommand({kCheck, "-D", dir().string()});
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  // No catalogs in this cluster: the relations go unnamed, and it says why.
  EXPECT_EQ(run.out,
            "warning: global/pg_filenode.map: cannot be read; its relations are shown by file\n"
            "warning: base/5/pg_filenode.map: cannot be read; its relations are shown by file\n"
            "\n"
            "Files checked:        2\n"
            "Blocks checked:       4\n"
            "Zero blocks:          1\n"
            "Damaged blocks:       0\n"
            "Structural problems:  0\n"
            "Tuple problems:       0\n"
            "Catalog problems:     0\n"
            "Heap tuples:          0 (inserts committed 0, aborted 0, frozen 0, not hinted 0)\n"
            "Block size:           8192\n"
            "Data checksums:       not verified (pg_control says data checksum version 0)\n");
}

TEST_F(CheckCli, DamageIsNamedByFileAndBlockInTextAndJson) {
  auto insane = EmptyPage(0x300);
  StoreLittleEndian(insane.data() + 12, 2, 8200);  // pd_lower past pd_upper
  auto never_initialized = std::vector<uint8_t>(8192, 0);
  never_initialized[100] = 1;
  Write(dir() / "base/5/16390", {EmptyPage(0x400), insane, never_initialized}, 100);
  const auto run = RunCommand({kCheck, "--jobs", "3", dir().string()});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.out.find(
      "base/5/16390 block 1: invalid page header: flags 0x0000, lower 8200, upper 8192, special 8192\n"
      "base/5/16390 block 2: pd_upper 0 (never initialized) but not all zeros\n"
      "base/5/16390: 24676 bytes is not a multiple of the block size 8192; the last 100 bytes are not a page\n"
      "\n"
      "Relations with damage:\n"
      "  base/5/16390 (main fork): 2 of 3 blocks damaged\n"),
            std::string::npos)
      << run.out;

  const auto json = RunCommand({kCheck, "--json", dir().string()});
  EXPECT_EQ(json.exit_code, 1);
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["blocks"], 7);
  EXPECT_EQ(doc["damaged_blocks"], 2);
  EXPECT_EQ(doc["checksums"], false);
  ASSERT_EQ(doc["damaged"].size(), 2u);
  EXPECT_EQ(doc["damaged"][0]["file"], "base/5/16390");
  EXPECT_EQ(doc["damaged"][0]["block"], 1);
  EXPECT_EQ(doc["damaged"][0]["problem"], "header");
  EXPECT_TRUE(doc["damaged"][0]["checksum_stored"].is_null());
  EXPECT_EQ(doc["damaged"][1]["problem"], "not-zero");
  ASSERT_EQ(doc["structural"].size(), 1u);
  EXPECT_EQ(doc["structural"][0]["problem"], "partial-block");
  EXPECT_EQ(doc["relations"].size(), 3u);
  EXPECT_TRUE(doc["damaged"][0]["name"].is_null());
  EXPECT_EQ(doc["naming_problems"].size(), 2u);
  EXPECT_TRUE(doc["damaged"][0]["rows"].is_null());  // the catalogs do not say it is a heap
  EXPECT_TRUE(doc["tuple_problems"].empty());
  EXPECT_TRUE(doc["catalog_problems"].empty());
}

TEST_F(CheckCli, BadUsageExitsTwoAndSaysWhy) {
  auto run = RunCommand({kCheck, "--jobs", "0", dir().string()});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("pgrescue-check: error:"), std::string::npos) << run.err;
  run = RunCommand({kCheck, (dir() / "nowhere").string()});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("does not exist or is not a directory"), std::string::npos) << run.err;
  run = RunCommand({kCheck}, {"-PGDATA"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("no data directory specified"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace pgrescue
