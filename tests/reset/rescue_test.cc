// The rescue folder on its own: what WriteNew leaves on disk, and what
// UndoRescue does with a data directory in every state a crash, a server or a
// person can leave it in.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>

#include "libcontrol/reset/rescue.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

// An owner that is not the test's own when running as root, so a file left
// with root's owner shows.
FileOwner ClusterOwner() {
  if (geteuid() == 0) return FileOwner{4321, 4321, 0600};
  return FileOwner{geteuid(), getegid(), 0600};
}

void WriteFile(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
  const FileOwner o = ClusterOwner();
  ASSERT_EQ(chmod(p.c_str(), o.mode), 0);
  if (geteuid() == 0) {
    ASSERT_EQ(chown(p.c_str(), o.uid, o.gid), 0);
  }
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::span<const uint8_t> Bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

bool Contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines) {
    if (l.find(part) != std::string::npos) return true;
  }
  return false;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Every file and directory: SHA-256 (files), mode, owner.
using Tree = std::map<std::string, std::tuple<std::string, unsigned, unsigned, unsigned>>;
Tree Snapshot(const fs::path& root) {
  Tree out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    struct stat st {};
    lstat(e.path().c_str(), &st);
    const std::string sha = e.is_regular_file() ? *Sha256OfFile(e.path().string()) : "dir";
    out[fs::relative(e.path(), root).string()] = {sha, st.st_mode & 07777, st.st_uid, st.st_gid};
  }
  return out;
}

class RescueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    root_ = fs::temp_directory_path() / ("pgrescue-rescue-" + std::to_string(getpid()) + "-" + name);
    data_ = root_ / "data";
    rescue_ = root_ / "rescue";
    fs::remove_all(root_);
    WriteFile(data_ / "PG_VERSION", "15\n");
    WriteFile(data_ / "global/pg_control", std::string(8192, 'c'));
    WriteFile(data_ / "pg_wal/000000010000000000000001", std::string(65536, 'w'));
    WriteFile(data_ / "pg_wal/archive_status/000000010000000000000001.done", "");
    before_ = Snapshot(data_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // What a reset does: keep pg_control and the segment, write both anew.
  RescueFolder Reset() {
    auto folder = RescueFolder::Create(data_.string(), rescue_.string(), "test reset");
    EXPECT_TRUE(folder.ok()) << folder.error().ToString();
    EXPECT_TRUE(folder->Keep("global/pg_control").ok());
    EXPECT_TRUE(folder->Keep("pg_wal/000000010000000000000001").ok());
    EXPECT_TRUE(folder->WriteNew("global/pg_control", Bytes(std::string(8192, 'n')), 0, ClusterOwner()).ok());
    EXPECT_TRUE(folder->WriteNew("pg_wal/000000010000000000000002", Bytes("header"), 65530, ClusterOwner()).ok());
    return std::move(*folder);
  }

  fs::path root_, data_, rescue_;
  Tree before_;
};

TEST_F(RescueTest, WriteNewGivesTheClusterOwnerAndModeAndRecordsTheInode) {
  auto folder = RescueFolder::Create(data_.string(), rescue_.string(), "test");
  ASSERT_TRUE(folder.ok()) << folder.error().ToString();
  FileOwner owner = ClusterOwner();
  owner.mode = 0640;
  ASSERT_TRUE(folder->WriteNew("pg_wal/000000010000000000000002", Bytes("head"), 12, owner).ok());
  const fs::path path = data_ / "pg_wal/000000010000000000000002";
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, owner.uid);
  EXPECT_EQ(st.st_gid, owner.gid);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(ReadFile(path), std::string("head") + std::string(12, '\0'));
  EXPECT_FALSE(fs::exists(path.string() + ".pgrescue-tmp"));
  auto m = ReadManifest(rescue_.string());
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->created.size(), 1u);
  EXPECT_EQ(m->created[0].inode, st.st_ino);
  EXPECT_FALSE(m->created[0].pending);
  EXPECT_EQ(m->created[0].sha256, *Sha256OfFile(path.string()));
  EXPECT_EQ(m->temps, std::vector<std::string>{"pg_wal/000000010000000000000002.pgrescue-tmp"});

  // WriteFileAtomically, outside a rescue, also gives owner and mode.
  const fs::path plain = root_ / "plain";
  ASSERT_TRUE(WriteFileAtomically(plain.string(), Bytes("x"), 0, owner).ok());
  ASSERT_EQ(stat(plain.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, owner.uid);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(RescueTest, AResetUndoesByteForByteAndASecondUndoSaysItIsDone) {
  Reset();
  EXPECT_NE(Snapshot(data_), before_);
  auto report = UndoRescue(rescue_.string());
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_TRUE(report->complete()) << Joined(report->not_restored);
  EXPECT_EQ(Snapshot(data_), before_);
  EXPECT_TRUE(fs::exists(rescue_ / "manifest.undone.json"));
  EXPECT_FALSE(fs::exists(rescue_ / "manifest.json"));
  auto again = UndoRescue(rescue_.string());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("already undone"), std::string::npos) << again.error().ToString();
}

// An undo killed after it removed the reset's pg_control and moved the old one
// back, but before the WAL: the rerun counts those as done and does the rest.
TEST_F(RescueTest, UndoRunAgainAfterItWasKilledFinishesTheJob) {
  Reset();
  fs::remove(data_ / "global/pg_control");
  fs::rename(rescue_ / "files/global/pg_control", data_ / "global/pg_control");
  auto report = UndoRescue(rescue_.string());
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_TRUE(report->complete()) << Joined(report->not_restored);
  EXPECT_TRUE(Contains(report->done, "global/pg_control already in place")) << Joined(report->done);
  EXPECT_TRUE(Contains(report->done, "restored pg_wal/000000010000000000000001")) << Joined(report->done);
  EXPECT_EQ(Snapshot(data_), before_);

  // Killed later still: everything back, only the manifest not yet renamed.
  fs::remove_all(rescue_);
  Reset();
  ASSERT_TRUE(UndoRescue(rescue_.string()).ok());
  fs::rename(rescue_ / "manifest.undone.json", rescue_ / "manifest.json");
  report = UndoRescue(rescue_.string());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->complete()) << Joined(report->not_restored);
  EXPECT_TRUE(Contains(report->done, "000000010000000000000002, written by the reset, already removed"))
      << Joined(report->done);
  EXPECT_EQ(Snapshot(data_), before_);
}

TEST_F(RescueTest, PartialUndoNamesEveryFileItCouldNotRestoreAndWhy) {
  Reset();
  const std::string kept_segment = ReadFile(rescue_ / "files/pg_wal/000000010000000000000001");
  fs::remove(rescue_ / "files/pg_wal/000000010000000000000001");
  // Another file where the reset's new segment was: not the reset's.
  fs::remove(data_ / "pg_wal/000000010000000000000002");
  WriteFile(data_ / "pg_wal/000000010000000000000002", "someone else's");
  // The kept pg_control damaged: the reset's stays rather than none at all.
  std::ofstream(rescue_ / "files/global/pg_control", std::ios::app) << "x";

  auto report = UndoRescue(rescue_.string());
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_FALSE(report->complete());
  const std::string why = Joined(report->not_restored);
  EXPECT_TRUE(Contains(report->not_restored, "pg_wal/000000010000000000000001: its kept copy")) << why;
  EXPECT_TRUE(Contains(report->not_restored, "is missing")) << why;
  EXPECT_TRUE(Contains(report->not_restored, "pg_wal/000000010000000000000002: a file is there that the reset "
                                             "did not write")) << why;
  EXPECT_TRUE(Contains(report->not_restored, "global/pg_control: its kept copy")) << why;
  EXPECT_TRUE(Contains(report->not_restored, "no longer matches")) << why;
  EXPECT_EQ(report->not_restored.size(), 3u) << why;
  EXPECT_EQ(ReadFile(data_ / "global/pg_control"), std::string(8192, 'n')) << "the reset's pg_control stays";
  EXPECT_EQ(ReadFile(data_ / "pg_wal/000000010000000000000002"), "someone else's");
  EXPECT_TRUE(fs::exists(rescue_ / "manifest.json")) << "only a complete undo retires the manifest";

  // Put right what it named, run again: complete.
  WriteFile(rescue_ / "files/pg_wal/000000010000000000000001", kept_segment);
  fs::resize_file(rescue_ / "files/global/pg_control", 8192);
  fs::remove(data_ / "pg_wal/000000010000000000000002");
  report = UndoRescue(rescue_.string());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->complete()) << Joined(report->not_restored);
  EXPECT_EQ(Snapshot(data_), before_);
}

TEST_F(RescueTest, AFileThatExistedBeforeIsNeverRemoved) {
  WriteFile(data_ / "global/pg_control.pgrescue-tmp", "a leftover someone may need");
  WriteFile(data_ / "pg_wal/000000010000000000000002", "there before the reset");
  before_ = Snapshot(data_);
  auto folder = RescueFolder::Create(data_.string(), rescue_.string(), "test");
  ASSERT_TRUE(folder.ok());
  // Neither an existing target nor an existing temporary name is announced.
  auto existing = folder->WriteNew("pg_wal/000000010000000000000002", Bytes("new"), 0, ClusterOwner());
  EXPECT_FALSE(existing.ok());
  ASSERT_TRUE(folder->Keep("global/pg_control").ok());
  auto taken = folder->WriteNew("global/pg_control", Bytes("new"), 0, ClusterOwner());
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(taken.error().message.find("temporary file"), std::string::npos) << taken.error().ToString();
  auto m = ReadManifest(rescue_.string());
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->created.empty());
  EXPECT_TRUE(m->temps.empty());

  auto report = UndoRescue(rescue_.string());
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_TRUE(report->complete()) << Joined(report->not_restored);
  EXPECT_EQ(Snapshot(data_), before_);
}

// A crash after Keep recorded a file but before it moved it: still in place.
TEST_F(RescueTest, AKeptFileNotYetMovedIsLeftInPlace) {
  auto folder = RescueFolder::Create(data_.string(), rescue_.string(), "test");
  ASSERT_TRUE(folder.ok());
  ASSERT_TRUE(folder->Keep("global/pg_control").ok());
  // As if the second Keep died between saving the manifest and the rename.
  auto m = ReadManifest(rescue_.string());
  ASSERT_TRUE(m.ok());
  m->kept.push_back(m->kept[0]);
  m->kept.back().path = "pg_wal/000000010000000000000001";
  m->kept.back().size = 65536;
  m->kept.back().sha256 = *Sha256OfFile((data_ / "pg_wal/000000010000000000000001").string());
  ASSERT_TRUE(WriteManifest(rescue_.string(), *m).ok());
  auto report = UndoRescue(rescue_.string());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->complete()) << Joined(report->not_restored);
  EXPECT_TRUE(Contains(report->done, "pg_wal/000000010000000000000001 already in place")) << Joined(report->done);
  EXPECT_EQ(Snapshot(data_), before_);
}

// After --from-wal and a server run: pg_control rewritten in place (same
// inode, other bytes), a segment overwritten, its archive_status entry gone.
TEST_F(RescueTest, CopiesComeBackAndTheServersRewriteOfTheNewFileIsRecognised) {
  auto folder = RescueFolder::Create(data_.string(), rescue_.string(), "test");
  ASSERT_TRUE(folder.ok());
  for (const char* f : {"pg_wal/000000010000000000000001", "pg_wal/archive_status/000000010000000000000001.done"}) {
    auto copied = folder->KeepCopy(f);
    ASSERT_TRUE(copied.ok()) << copied.error().ToString();
  }
  ASSERT_TRUE(folder->Keep("global/pg_control").ok());
  ASSERT_TRUE(folder->WriteNew("global/pg_control", Bytes(std::string(8192, 'n')), 0, ClusterOwner()).ok());
  {
    std::fstream f(data_ / "global/pg_control", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f << "server";
  }
  {
    std::fstream f(data_ / "pg_wal/000000010000000000000001", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4000);
    f << "server";
  }
  fs::remove(data_ / "pg_wal/archive_status/000000010000000000000001.done");
  auto report = UndoRescue(rescue_.string());
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_TRUE(report->complete()) << Joined(report->not_restored);
  EXPECT_TRUE(Contains(report->done, "restored pg_wal/000000010000000000000001 (changed since the reset"))
      << Joined(report->done);
  EXPECT_TRUE(Contains(report->done, ".done (removed or recycled since")) << Joined(report->done);
  EXPECT_EQ(Snapshot(data_), before_);
}

// /dev/shm is another filesystem: the kept files were copied there, and come
// back through a temporary file the manifest announces first.
TEST_F(RescueTest, AcrossFilesystemsUndoAnnouncesItsTemporaryFiles) {
  rescue_ = fs::path("/dev/shm") / ("pgrescue-rescue-test-" + std::to_string(getpid()));
  fs::remove_all(rescue_);
  struct stat a {}, b {};
  ASSERT_EQ(stat(data_.c_str(), &a), 0);
  ASSERT_EQ(stat("/dev/shm", &b), 0);
  if (a.st_dev == b.st_dev) GTEST_SKIP() << "/dev/shm is on the same filesystem as " << data_;
  Reset();
  auto report = UndoRescue(rescue_.string());
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_TRUE(report->complete()) << Joined(report->not_restored);
  EXPECT_EQ(Snapshot(data_), before_);
  auto m = ReadManifest(rescue_.string());
  EXPECT_FALSE(m.ok()) << "renamed to manifest.undone.json";
  fs::rename(rescue_ / "manifest.undone.json", rescue_ / "manifest.json");
  m = ReadManifest(rescue_.string());
  ASSERT_TRUE(m.ok());
  EXPECT_NE(std::find(m->temps.begin(), m->temps.end(), "pg_wal/000000010000000000000001.pgrescue-tmp"),
            m->temps.end());
  fs::remove_all(rescue_);
}

TEST_F(RescueTest, UndoRefusesWhilePostmasterPidExistsAndChangesNothing) {
  Reset();
  const Tree reset = Snapshot(data_);
  WriteFile(data_ / "postmaster.pid", "12345\n");
  auto report = UndoRescue(rescue_.string());
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message.find("postmaster.pid"), std::string::npos);
  fs::remove(data_ / "postmaster.pid");
  EXPECT_EQ(Snapshot(data_), reset);
}

}  // namespace
}  // namespace pgrescue
