// The directory listing every layer shares: names sorted exactly as
// std::string sorts them (the sort compares the first 24 bytes as integers,
// so prefixes, long names and names sharing 24 bytes are the cases that
// matter), kinds right, and names that stay valid in every copy.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/cluster/data_dir.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Names(const DirListing& l) {
  std::vector<std::string> out;
  for (const auto& e : l.entries) out.emplace_back(e.name);
  return out;
}

TEST(DataDirListing, SortsAsStdStringDoesAndKnowsDirectories) {
  testing::ScratchDir scratch("listing");
  const fs::path wal = scratch.path() / "pg_wal";
  fs::create_directories(wal / "archive_status");
  const std::vector<std::string> files = {
      "000000010000000000000002",
      "000000010000000000000001",
      "000000010000000000000001.partial",
      "00000001000000000000000",           // one byte short: a prefix sorts first
      "000000010000000000000001.00000028.backup",
      "00000002.history",
      "000000020000000000000001",
      "0000000100000000000000010",         // 25 bytes, sharing the first 24
      "xlogtemp.123",
      "a",
      "Z",
  };
  for (const auto& f : files) std::ofstream(wal / f).close();
  fs::create_symlink("archive_status", wal / "link_to_dir");

  std::optional<DirListing> copy;
  {
    auto dir = ScanDataDir(scratch.path().string(), {});
    ASSERT_TRUE(dir.ok());
    copy = dir->wal;  // the scan goes out of scope; the copy's names must not
  }
  std::vector<std::string> want = files;
  want.push_back("archive_status");
  want.push_back("link_to_dir");
  std::sort(want.begin(), want.end());
  EXPECT_EQ(Names(*copy), want);
  for (const auto& e : copy->entries) {
    EXPECT_EQ(e.is_dir, e.name == "archive_status" || e.name == "link_to_dir") << e.name;
  }
  EXPECT_TRUE(Contains(*copy, "000000010000000000000001.partial"));
  EXPECT_FALSE(Contains(*copy, "000000010000000000000003"));
}

TEST(DataDirListing, AddedNamesOutliveTheirSource) {
  DirListing l;
  {
    std::string name = "000000010000000000000001";
    l.Add(name);
    name.assign(24, 'x');
  }
  for (int i = 0; i < 100; ++i) l.Add(std::to_string(i));  // earlier names stay where they are
  DirListing copy = l;
  l = DirListing{};
  EXPECT_EQ(copy.entries.front().name, "000000010000000000000001");
  EXPECT_EQ(copy.entries.back().name, "99");
}

TEST(DataDirListing, FileSizeIsReadWhenAsked) {
  testing::ScratchDir scratch("listing-size");
  std::ofstream(scratch.path() / "0000").close();
  fs::resize_file(scratch.path() / "0000", 8192);
  DirListing l;
  l.path = scratch.path().string();
  l.Add("0000");
  EXPECT_EQ(FileSize(l, "0000"), 8192u);
  EXPECT_EQ(FileSize(l, "0001"), 0u);
}

}  // namespace
}  // namespace pgrescue
