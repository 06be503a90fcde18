#include "libcontrol/cluster/liveness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>

namespace pgrescue {
namespace {
namespace fs = std::filesystem;

// Lines as CreateLockFile and AddToDataDirLockFile write them: 1-5 at
// creation, then listen address, "%9lu %9lu" key and ID, and (10+) the
// status padded to eight characters.
TEST(LivenessParse, Version9FileHasNoStatus) {
  const auto f = ParsePostmasterPid(
      "12345\n/var/lib/postgresql/9.4/main\n1700000000\n5432\n/var/run/postgresql\nlocalhost\n  5432001     32769\n");
  EXPECT_EQ(f.text_first_line, "12345");
  EXPECT_EQ(f.pid, 12345);
  EXPECT_FALSE(f.single_user);
  EXPECT_EQ(f.data_dir, "/var/lib/postgresql/9.4/main");
  EXPECT_EQ(f.start_time, 1700000000);
  EXPECT_EQ(f.port, "5432");
  EXPECT_EQ(f.socket_dir, "/var/run/postgresql");
  EXPECT_EQ(f.listen_addr, "localhost");
  EXPECT_EQ(f.shm_key, 5432001u);
  EXPECT_EQ(f.shm_id, 32769);
  EXPECT_FALSE(f.status);
}

TEST(LivenessParse, Version10FileHasStatus) {
  const auto f = ParsePostmasterPid("901\n/srv/pg16\n1712345678\n5433\n/tmp\n*\n  5433001         2\nready   \n");
  EXPECT_EQ(f.pid, 901);
  EXPECT_EQ(f.listen_addr, "*");
  EXPECT_EQ(f.shm_key, 5433001u);
  EXPECT_EQ(f.shm_id, 2);
  EXPECT_EQ(f.status, "ready");
  EXPECT_EQ(ParsePostmasterPid("1\n\n\n\n\n\n\nstandby \n").status, "standby");
  // The key starts at the data directory's inode, a key_t: past 2^31 it is written sign-extended.
  EXPECT_EQ(ParsePostmasterPid("1\n\n\n\n\n\n18446744072414584320     98305\n").shm_key, 18446744072414584320u);
}

// pgrescue's own lock: the server's eight lines, then its writer and folder.
TEST(LivenessParse, WriterLockRoundTrip) {
  const auto text = FormatWriterLock(77, "/srv/data", 1700000000, 76, "pgrescue-reset --auto\n-D /srv/data",
                                     "/srv/data.pgrescue/x");
  const auto f = ParsePostmasterPid(text);
  EXPECT_EQ(f.pid, 77);
  EXPECT_EQ(f.data_dir, "/srv/data");
  EXPECT_EQ(f.start_time, 1700000000);
  EXPECT_FALSE(f.shm_key);
  EXPECT_EQ(f.status, "pgrescue");
  EXPECT_EQ(f.writer_pid, 76);
  EXPECT_EQ(f.writer_command, "pgrescue-reset --auto -D /srv/data");
  EXPECT_EQ(f.writer_rescue_dir, "/srv/data.pgrescue/x");
  // A server's file has no ninth line; a ninth line that is not ours is not a writer.
  EXPECT_FALSE(ParsePostmasterPid("1\n\n\n\n\n\n\nready   \n").writer_pid);
  EXPECT_FALSE(ParsePostmasterPid("1\n\n\n\n\n\n\n\nsomething 5 x\n").writer_pid);
  EXPECT_FALSE(ParsePostmasterPid("1\n\n\n\n\n\n\n\npgrescue-lock x\n").writer_pid);
}

TEST(LivenessParse, StandaloneBackendWritesItsPidNegated) {
  // A standalone backend never listens, so line 6 is written empty at once.
  const auto f = ParsePostmasterPid("-4242\n/data\n1700000000\n5432\n\n\n");
  EXPECT_EQ(f.pid, 4242);
  EXPECT_TRUE(f.single_user);
  EXPECT_EQ(f.socket_dir, "");
  EXPECT_EQ(f.listen_addr, "");
  EXPECT_FALSE(f.shm_key);
  EXPECT_FALSE(f.status);
}

TEST(LivenessParse, TruncatedDuringStartup) {
  const auto f = ParsePostmasterPid("777\n/data\n1700000000\n");
  EXPECT_EQ(f.pid, 777);
  EXPECT_EQ(f.start_time, 1700000000);
  EXPECT_FALSE(f.port);
  EXPECT_FALSE(f.socket_dir);
  EXPECT_FALSE(f.shm_id);
  const auto half = ParsePostmasterPid("777\n/data\n1700000000\n5432\n/tmp\n\n  5432001");
  EXPECT_FALSE(half.shm_key) << "a key without an ID is unusable";
}

TEST(LivenessParse, GarbageNeverParsesAsAPid) {
  for (const std::string& text : {std::string(), std::string("\n"), std::string("hello\n"), std::string("0\n"),
                                 std::string("-\n"), std::string("99999999999999999999\n"),
                                 std::string("\0\xff\n", 3)}) {
    const auto f = ParsePostmasterPid(text);
    EXPECT_FALSE(f.pid) << text;
    EXPECT_FALSE(f.shm_id) << text;
  }
  // The server reads the PID as atoi() does.
  EXPECT_EQ(ParsePostmasterPid("123abc\n").pid, 123);
  EXPECT_FALSE(ParsePostmasterPid("1\n\n\n\n\n\nabc def\n").shm_id);
  EXPECT_FALSE(ParsePostmasterPid("1\n\n\n\n\n\n-5 7\n").shm_key);
}

// A process that does `setup` in a child, then waits to be killed; dies
// with the test process even if that crashes.
class Child {
 public:
  explicit Child(const std::function<bool()>& setup) {
    int ready[2];
    if (pipe(ready) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(ready[0]);
      if (!setup()) _exit(1);
      const char byte = 1;
      if (write(ready[1], &byte, 1) != 1) _exit(1);
      for (;;) pause();
    }
    close(ready[1]);
    char byte = 0;
    ok_ = pid_ > 0 && read(ready[0], &byte, 1) == 1;
    close(ready[0]);
  }
  ~Child() { Stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  long pid() const { return pid_; }
  bool ok() const { return ok_; }

 private:
  pid_t pid_ = -1;
  bool ok_ = false;
};

// A data directory with a relation file and a tablespace outside it.
class LivenessLive : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgrescue-liveness-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = fs::canonical(tmpl);
    data_ = top_ / "data";
    tablespace_ = top_ / "ts";
    fs::create_directories(data_ / "base" / "1");
    fs::create_directories(data_ / "pg_tblspc");
    fs::create_directories(tablespace_ / "PG_16_202307071" / "1");
    fs::create_directory_symlink(tablespace_, data_ / "pg_tblspc" / "16400");
    std::ofstream(data_ / "base" / "1" / "1234") << "x";
  }
  void TearDown() override {
    if (segment_ >= 0) shmctl(segment_, IPC_RMID, nullptr);
    std::error_code ec;
    fs::remove_all(top_, ec);
  }
  void WritePidFile(const std::string& text) { std::ofstream(data_ / "postmaster.pid") << text; }
  // Every liveness check attaches to each segment for a moment to read its
  // header, so a check in a test running beside this one can make a count
  // one too high, or keep a removed segment alive an instant longer. Asks
  // again (for up to 2 s) until `settled` holds, and returns the last answer.
  LiveCheck CheckUntil(const std::function<bool(const LiveCheck&)>& settled) {
    LiveCheck c = CheckDirectoryUse(data_);
    for (int i = 0; i < 200 && !settled(c); ++i) {
      usleep(10000);
      c = CheckDirectoryUse(data_);
    }
    return c;
  }
  static bool AttachedOnce(const LiveCheck& c) { return c.shared_memory && c.shared_memory->attached == 1; }

  // A segment laid out as the server's: PGShmemHeader's magic at 0, the
  // data directory's device at 40 and inode at 48 (LP64).
  void* CreateSegment(const fs::path& owner_dir, int32_t magic = 679834894) {
    static_assert(sizeof(void*) == 8 && sizeof(dev_t) == 8 && sizeof(ino_t) == 8);
    for (long k = 7700001 + getpid() % 100000; segment_ < 0; ++k) {
      segment_ = shmget(static_cast<key_t>(k), 56, IPC_CREAT | IPC_EXCL | 0600);
      if (segment_ >= 0) key_ = k;
      if (segment_ < 0 && errno != EEXIST) return nullptr;
    }
    void* p = shmat(segment_, nullptr, 0);
    if (p == reinterpret_cast<void*>(-1)) return nullptr;
    struct stat st {};
    stat(owner_dir.c_str(), &st);
    auto* bytes = static_cast<char*>(p);
    std::memcpy(bytes, &magic, 4);
    std::memcpy(bytes + 40, &st.st_dev, 8);
    std::memcpy(bytes + 48, &st.st_ino, 8);
    return p;
  }
  // A PID no process has: a child that has exited and been reaped.
  static long DeadPid() {
    const pid_t pid = fork();
    if (pid == 0) _exit(0);
    waitpid(pid, nullptr, 0);
    return pid;
  }
  // Line 7 as the server formats it: "%9lu %9lu".
  static std::string Pad(long v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%9ld", v);
    return buf;
  }
  static const DirectoryUser* Find(const LiveCheck& c, long pid) {
    for (const auto& u : c.users) {
      if (u.pid == pid) return &u;
    }
    return nullptr;
  }

  fs::path top_, data_, tablespace_;
  int segment_ = -1;
  long key_ = 0;
};

TEST_F(LivenessLive, UnusedDirectoryIsFree) {
  const auto c = CheckDirectoryUse(data_);
  EXPECT_FALSE(c.in_use());
  EXPECT_FALSE(c.pid_file);
  EXPECT_TRUE(c.users.empty());
  EXPECT_EQ(c.PostgresWouldSay(), "");
  // limits may still name processes even root cannot inspect (a sandbox's init).
  EXPECT_FALSE(c.shared_memory);
}

TEST_F(LivenessLive, FindsWorkingDirectoryAndOpenFilesButNotItself) {
  const std::string data = data_, file = data_ / "base" / "1" / "1234";
  Child in_dir([&] { return chdir(data.c_str()) == 0; });
  Child holder([&] { return open(file.c_str(), O_RDONLY) >= 0 && chdir("/") == 0; });
  Child in_tablespace([&] { return chdir((data + "/pg_tblspc/16400/PG_16_202307071").c_str()) == 0; });
  ASSERT_TRUE(in_dir.ok() && holder.ok() && in_tablespace.ok());
  const int own = open(file.c_str(), O_RDONLY);  // ours: never reported

  const auto c = CheckDirectoryUse(data);
  close(own);
  EXPECT_TRUE(c.in_use());
  ASSERT_EQ(c.users.size(), 3u);
  EXPECT_TRUE(std::is_sorted(c.users.begin(), c.users.end(), [](auto& a, auto& b) { return a.pid < b.pid; }));
  ASSERT_NE(Find(c, in_dir.pid()), nullptr);
  EXPECT_EQ(Find(c, in_dir.pid())->how, "working directory is the data directory");
  EXPECT_FALSE(Find(c, in_dir.pid())->command.empty());
  ASSERT_NE(Find(c, holder.pid()), nullptr);
  EXPECT_EQ(Find(c, holder.pid())->how, "holds open base/1/1234");
  ASSERT_NE(Find(c, in_tablespace.pid()), nullptr);
  EXPECT_EQ(Find(c, in_tablespace.pid())->how,
            "working directory is " + (tablespace_ / "PG_16_202307071").string());
  EXPECT_EQ(c.PostgresWouldSay(), "") << "the server itself only looks at the lock file and shared memory";

  in_dir.Stop();
  holder.Stop();
  in_tablespace.Stop();
  EXPECT_FALSE(CheckDirectoryUse(data).in_use());
}

// `pg_ctl stop` returns once postmaster.pid is gone, while the postmaster
// is still exiting with the data directory as its working directory.
TEST_F(LivenessLive, AProcessExitingJustAfterTheCheckStartsIsWaitedFor) {
  const std::string data = data_;
  Child exiting([&] {
    if (chdir(data.c_str()) != 0) return false;
    signal(SIGALRM, SIG_DFL);
    alarm(1);  // dies one second from now, unreaped until Stop()
    return true;
  });
  ASSERT_TRUE(exiting.ok());
  const auto c = CheckDirectoryUse(data);
  EXPECT_FALSE(c.in_use()) << (c.users.empty() ? "" : c.users[0].how);
  EXPECT_EQ(Find(c, exiting.pid()), nullptr);
}

TEST_F(LivenessLive, PostmasterPidFileNamingALiveProcess) {
  Child postmaster([] { return chdir("/") == 0; });
  ASSERT_TRUE(postmaster.ok());
  WritePidFile(std::to_string(postmaster.pid()) + "\n" + data_.string() + "\n1700000000\n5432\n/tmp\n\n");
  auto c = CheckDirectoryUse(data_);
  EXPECT_TRUE(c.postmaster_alive);
  EXPECT_TRUE(c.in_use());
  ASSERT_NE(Find(c, postmaster.pid()), nullptr);
  EXPECT_EQ(Find(c, postmaster.pid())->how, "postmaster.pid names it");
  EXPECT_EQ(c.PostgresWouldSay(), "lock file \"postmaster.pid\" already exists");

  postmaster.Stop();
  c = CheckDirectoryUse(data_);
  EXPECT_FALSE(c.postmaster_alive);
  EXPECT_FALSE(c.in_use());
  EXPECT_EQ(c.PostgresWouldSay(), "");
}

TEST_F(LivenessLive, ZombiePostmasterRunsNothingButTheServerStillCountsIt) {
  const pid_t zombie = fork();
  if (zombie == 0) _exit(0);
  ASSERT_GT(zombie, 0);
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(zombie), &info, WEXITED | WNOWAIT), 0);  // exited, not reaped
  WritePidFile(std::to_string(zombie) + "\n");
  const auto c = CheckDirectoryUse(data_);
  waitpid(zombie, nullptr, 0);
  EXPECT_TRUE(c.postmaster_zombie);
  EXPECT_FALSE(c.postmaster_alive);
  EXPECT_FALSE(c.in_use());
  EXPECT_EQ(c.PostgresWouldSay(), "lock file \"postmaster.pid\" already exists");
}

TEST_F(LivenessLive, EmptyOrBogusPidFile) {
  WritePidFile("");
  EXPECT_EQ(CheckDirectoryUse(data_).PostgresWouldSay(), "lock file \"postmaster.pid\" is empty");
  WritePidFile("garbage\n");
  EXPECT_EQ(CheckDirectoryUse(data_).PostgresWouldSay(), "bogus data in lock file \"postmaster.pid\": \"garbage\n\"");
}

TEST_F(LivenessLive, BackendAttachedToSharedMemoryAfterPostmasterDied) {
  void* mapped = CreateSegment(data_);
  ASSERT_NE(mapped, nullptr);
  Child backend([] { return true; });  // inherits the attachment, as a forked backend does
  shmdt(mapped);
  ASSERT_TRUE(backend.ok());
  WritePidFile(std::to_string(DeadPid()) + "\n" + data_.string() + "\n1700000000\n5432\n/tmp\n\n" +
               Pad(key_) + " " + Pad(segment_) + "\nready   \n");

  auto c = CheckUntil(AttachedOnce);
  EXPECT_FALSE(c.postmaster_alive);
  ASSERT_TRUE(c.shared_memory);
  EXPECT_TRUE(c.shared_memory->exists);
  EXPECT_TRUE(c.shared_memory->from_pid_file);
  EXPECT_EQ(c.shared_memory->attached, 1u);
  EXPECT_EQ(c.shared_memory->this_directory, true);
  EXPECT_EQ(c.shared_memory->creator_pid, getpid());
  EXPECT_TRUE(c.in_use());
  ASSERT_NE(Find(c, backend.pid()), nullptr);
  EXPECT_EQ(Find(c, backend.pid())->how, "attached to the shared memory segment");
  const std::string refusal = "pre-existing shared memory block (key " + std::to_string(key_) + ", ID " +
                              std::to_string(segment_) + ") is still in use";
  EXPECT_EQ(c.PostgresWouldSay(), refusal);

  // Removed but still attached: the segment lives on, and so does its user.
  ASSERT_EQ(shmctl(segment_, IPC_RMID, nullptr), 0);
  c = CheckUntil(AttachedOnce);
  ASSERT_TRUE(c.shared_memory);
  EXPECT_EQ(c.shared_memory->attached, 1u);
  EXPECT_TRUE(c.in_use());

  backend.Stop();
  c = CheckUntil([](const LiveCheck& l) { return l.shared_memory && !l.shared_memory->exists; });
  ASSERT_TRUE(c.shared_memory);
  EXPECT_FALSE(c.shared_memory->exists);
  EXPECT_FALSE(c.in_use());
  EXPECT_EQ(c.PostgresWouldSay(), "");
  segment_ = -1;
}

TEST_F(LivenessLive, SegmentOfAnotherDirectoryIsNotOurs) {
  // After a reboot the stale ID in line 7 often belongs to another cluster.
  void* mapped = CreateSegment(tablespace_);
  ASSERT_NE(mapped, nullptr);
  Child other_backend([] { return true; });
  shmdt(mapped);
  ASSERT_TRUE(other_backend.ok());
  WritePidFile(std::to_string(DeadPid()) + "\n" + "\n\n\n\n\n" + Pad(key_) + " " + Pad(segment_) + "\n");
  const auto c = CheckUntil(AttachedOnce);
  ASSERT_TRUE(c.shared_memory);
  EXPECT_EQ(c.shared_memory->attached, 1u);
  EXPECT_EQ(c.shared_memory->this_directory, false);
  EXPECT_FALSE(c.in_use());
  EXPECT_EQ(c.PostgresWouldSay(), "");
}

TEST_F(LivenessLive, SegmentFoundWithoutPidFile) {
  // postmaster.pid deleted by hand: the server still finds the segment by key.
  void* mapped = CreateSegment(data_);
  ASSERT_NE(mapped, nullptr);
  Child backend([] { return true; });
  shmdt(mapped);
  ASSERT_TRUE(backend.ok());
  const auto c = CheckDirectoryUse(data_);
  EXPECT_FALSE(c.pid_file);
  ASSERT_TRUE(c.shared_memory);
  EXPECT_FALSE(c.shared_memory->from_pid_file);
  EXPECT_EQ(c.shared_memory->id, segment_);
  EXPECT_EQ(c.shared_memory->key, static_cast<uint64_t>(key_));
  EXPECT_TRUE(c.in_use());
  ASSERT_NE(Find(c, backend.pid()), nullptr);
  EXPECT_NE(c.PostgresWouldSay().find("pre-existing shared memory block"), std::string::npos);
}

TEST_F(LivenessLive, MissingDirectoryIsALimitNotAnError) {
  const auto c = CheckDirectoryUse((top_ / "nope").string());
  EXPECT_FALSE(c.in_use());
  ASSERT_EQ(c.limits.size(), 1u);
  EXPECT_NE(c.limits[0].find("No such file"), std::string::npos);
}

}  // namespace
}  // namespace pgrescue
