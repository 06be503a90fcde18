// The writer lock on its own: what the file says, who holds it, and what a
// second writer, a stale lock and a server's postmaster.pid get. The server's
// side (pg_ctl start refused) is tests/server/writer_lock_test.py.
#include "libcontrol/reset/writer_lock.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "libcontrol/cluster/liveness.h"
#include "libcontrol/reset/rescue.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

class WriterLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pgrescue-lock-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Write("PG_VERSION", "15\n");
    ASSERT_EQ(chmod((dir_ / "PG_VERSION").c_str(), 0600), 0);
    // When root, the cluster belongs to someone else: the keeper must become them.
    if (geteuid() == 0) {
      ASSERT_EQ(chown(dir_.c_str(), kOwner, kOwner), 0);
      ASSERT_EQ(chown((dir_ / "PG_VERSION").c_str(), kOwner, kOwner), 0);
    }
  }
  void TearDown() override {
    fs::remove_all(dir_);
    fs::remove_all(dir_.string() + ".pgrescue");
  }

  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::string Read(const std::string& name) {
    std::ifstream in(dir_ / name);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  std::string data() const { return dir_.string(); }
  std::string rescue() const { return dir_.string() + ".pgrescue/one"; }

  // What another process's liveness check sees: 1 in use by a live writer,
  // 2 a stale writer lock, 0 neither.
  int SeenFromAnotherProcess() {
    const pid_t child = fork();
    if (child == 0) {
      // Another process: none of our descriptors, the lock's among them.
      for (int fd = 3; fd < 1024; ++fd) close(fd);
      const LiveCheck c = CheckDirectoryUse(data());
      _exit(c.in_use() && c.writer_lock_held ? 1 : c.stale_writer_lock() ? 2 : 0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  static constexpr uid_t kOwner = 4321;
  fs::path dir_;
};

TEST_F(WriterLockTest, HeldLockNamesTheWriterAndItsKeeper) {
  auto lock = WriterLock::Take(data(), rescue(), false);
  ASSERT_TRUE(lock) << lock.error().ToString();
  const auto f = ParsePostmasterPid(Read("postmaster.pid"));
  ASSERT_TRUE(f.pid && f.writer_pid);
  EXPECT_EQ(*f.writer_pid, getpid());
  EXPECT_NE(f.writer_command.find("libcontrol_tests"), std::string::npos) << f.writer_command;
  EXPECT_EQ(f.writer_rescue_dir, fs::weakly_canonical(rescue()).string());
  EXPECT_EQ(f.data_dir, fs::canonical(data()).string());
  EXPECT_FALSE(f.shm_id);  // a server finding the keeper dead looks for no shared memory
  struct stat keeper {}, file {};
  ASSERT_EQ(stat(("/proc/" + std::to_string(*f.pid)).c_str(), &keeper), 0);
  ASSERT_EQ(stat((dir_ / "postmaster.pid").c_str(), &file), 0);
  EXPECT_EQ(keeper.st_uid, geteuid() == 0 ? kOwner : geteuid());
  EXPECT_EQ(file.st_uid, geteuid() == 0 ? kOwner : geteuid());
  EXPECT_EQ(file.st_mode & 0777, 0600u);
  EXPECT_FALSE(fs::exists(dir_ / "postmaster.pid.pgrescue-tmp"));
  // The keeper does not end on the signal `pg_ctl stop` sends.
  kill(static_cast<pid_t>(*f.pid), SIGTERM);
  usleep(100000);
  int status = 0;
  EXPECT_EQ(waitpid(static_cast<pid_t>(*f.pid), &status, WNOHANG), 0) << "the keeper ended on SIGTERM";

  EXPECT_EQ(SeenFromAnotherProcess(), 1);
  auto second = WriterLock::Take(data(), rescue(), true);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find(fmt::format("pgrescue PID {}", getpid())), std::string::npos);
  EXPECT_NE(second.error().message.find("wait for it to end"), std::string::npos);

  ASSERT_TRUE(lock->Release());
  EXPECT_FALSE(fs::exists(dir_ / "postmaster.pid"));
  EXPECT_NE(kill(static_cast<pid_t>(*f.pid), 0), 0);  // ended and reaped
  EXPECT_EQ(SeenFromAnotherProcess(), 0);
}

TEST_F(WriterLockTest, StaleLockRefusedButTakenOverByUndo) {
  {
    auto lock = WriterLock::Take(data(), rescue(), false);
    ASSERT_TRUE(lock);
    lock->KeepForUndo();
  }
  ASSERT_TRUE(fs::exists(dir_ / "postmaster.pid"));
  EXPECT_EQ(SeenFromAnotherProcess(), 2);
  EXPECT_EQ(StaleLockRescueDir(data()), fs::weakly_canonical(rescue()).string());
  auto refused = WriterLock::Take(data(), "/elsewhere", false);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("stopped before it finished"), std::string::npos);
  EXPECT_NE(refused.error().message.find("--undo"), std::string::npos);
  {
    auto undo = WriterLock::Take(data(), rescue(), true);
    ASSERT_TRUE(undo) << undo.error().ToString();
    EXPECT_NE(undo->taken_over().find("took over the lock"), std::string::npos);
    EXPECT_EQ(undo->taken_over_rescue_dir(), fs::weakly_canonical(rescue()).string());
  }  // not released: a taken-over lock stays stale
  EXPECT_EQ(SeenFromAnotherProcess(), 2);
  // Its folder has a manifest: the run changed files, so only its --undo may go on.
  fs::create_directories(rescue());
  std::ofstream(rescue() + "/manifest.json") << "{}";
  auto refused_clear = ClearStaleWriterLock(data());
  ASSERT_FALSE(refused_clear);
  EXPECT_NE(refused_clear.error().message.find("undo that one first"), std::string::npos);
  fs::remove_all(dir_.string() + ".pgrescue");
  auto cleared = ClearStaleWriterLock(data());
  ASSERT_TRUE(cleared);
  EXPECT_NE(cleared->find("the lock is removed"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "postmaster.pid"));
  EXPECT_EQ(*ClearStaleWriterLock(data()), "");
}

TEST_F(WriterLockTest, ServersLockFileIsNeverTaken) {
  Write("postmaster.pid", "999999\n/srv/data\n1700000000\n5432\n/tmp\n*\n  5432001         2\nready   \n");
  for (bool take_over : {false, true}) {
    auto lock = WriterLock::Take(data(), rescue(), take_over);
    ASSERT_FALSE(lock);
    EXPECT_NE(lock.error().message.find("a server is running, or crashed"), std::string::npos);
  }
  EXPECT_EQ(Read("postmaster.pid").substr(0, 7), "999999\n");
  EXPECT_FALSE(ClearStaleWriterLock(data()));
}

TEST_F(WriterLockTest, LeftoverTemporaryFile) {
  Write("postmaster.pid.pgrescue-tmp", "");  // a run killed before it wrote a byte
  {
    auto lock = WriterLock::Take(data(), rescue(), false);
    ASSERT_TRUE(lock) << lock.error().ToString();
  }
  EXPECT_FALSE(fs::exists(dir_ / "postmaster.pid.pgrescue-tmp"));
  EXPECT_FALSE(fs::exists(dir_ / "postmaster.pid"));
  Write("postmaster.pid.pgrescue-tmp", "a note somebody kept\n");
  auto lock = WriterLock::Take(data(), rescue(), false);
  ASSERT_FALSE(lock);
  EXPECT_NE(lock.error().message.find("not pgrescue's"), std::string::npos);
  EXPECT_EQ(Read("postmaster.pid.pgrescue-tmp"), "a note somebody kept\n");
}

}  // namespace
}  // namespace pgrescue
