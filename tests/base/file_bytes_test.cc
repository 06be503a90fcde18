// Reading files that are not what their names say: a directory, a FIFO or
// a huge sparse file where a small file belongs is refused at once, with
// what it is, instead of blocking or reading gigabytes.
#include "libcontrol/base/file_bytes.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

class FileBytes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pgrescue-file-bytes-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(FileBytes, ReadsAHeadAndTellsTheWholeSize) {
  std::ofstream(Path("f")) << "first line\nsecond line\n";
  auto head = ReadFileHead(Path("f"), 5);
  ASSERT_TRUE(head) << head.error().ToString();
  EXPECT_EQ(std::string(head->bytes.begin(), head->bytes.end()), "first");
  EXPECT_EQ(head->size, 23u);
  EXPECT_EQ(ReadSmallText(Path("f")), "first line\nsecond line\n");
}

TEST_F(FileBytes, ADirectoryIsNamedAsOne) {
  fs::create_directory(Path("pg_control"));
  auto head = ReadFileHead(Path("pg_control"), 8192);
  ASSERT_FALSE(head);
  EXPECT_NE(head.error().ToString().find("is a directory, not a file"), std::string::npos) << head.error().ToString();
  EXPECT_FALSE(ReadSmallText(Path("pg_control")));
  std::vector<uint8_t> bytes;
  EXPECT_FALSE(AppendFileBytes(Path("pg_control"), &bytes));
}

// Opening a FIFO for reading waits for a writer: these would hang.
TEST_F(FileBytes, AFifoIsNotOpened) {
  ASSERT_EQ(mkfifo(Path("backup_label").c_str(), 0600), 0);
  auto head = ReadFileHead(Path("backup_label"), 8192);
  ASSERT_FALSE(head);
  EXPECT_NE(head.error().ToString().find("is a FIFO, not a file"), std::string::npos) << head.error().ToString();
  EXPECT_EQ(OpenRegularFile(Path("backup_label")), -1);
  EXPECT_EQ(errno, EINVAL);
  std::vector<uint8_t> bytes;
  EXPECT_FALSE(AppendFileBytes(Path("backup_label"), &bytes));
}

TEST_F(FileBytes, AHugeSparseFileIsReadOnlyAsFarAsAsked) {
  { std::ofstream(Path("sparse")); }
  ASSERT_EQ(truncate(Path("sparse").c_str(), 8ll << 30), 0);
  auto head = ReadFileHead(Path("sparse"), 8192);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->bytes.size(), 8192u);
  EXPECT_EQ(head->size, 8ull << 30);
}

TEST_F(FileBytes, AMissingFileSaysWhy) {
  auto head = ReadFileHead(Path("missing"), 10);
  ASSERT_FALSE(head);
  EXPECT_NE(head.error().ToString().find("No such file or directory"), std::string::npos);
}

}  // namespace
}  // namespace pgrescue
