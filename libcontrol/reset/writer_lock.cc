#include "libcontrol/reset/writer_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "libcontrol/base/file_bytes.h"
#include "libcontrol/base/shell_words.h"
#include "libcontrol/cluster/liveness.h"
#include "libcontrol/reset/rescue.h"
#include "libcontrol/reset/rescue_io.h"

namespace pgrescue {
namespace {

using rescue_io::FsyncDir;
using rescue_io::IoError;

Error Refused(const std::string& message, const std::string& path) {
  return MakeError(ErrorCode::kInvalidArgument, message, path);
}

// Held by nobody: flock() succeeds. Only pgrescue flocks these files.
bool Unheld(int fd) { return flock(fd, LOCK_EX | LOCK_NB) == 0; }

// The keeper: the owner's user, deaf to the signals `pg_ctl stop` and a
// terminal send, alive until the pipe's other end closes. Between fork and
// _exit only async-signal-safe calls: the parent may have threads.
Result<pid_t> StartKeeper(const FileOwner& owner, int* write_end) {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) return IoError("could not make a pipe for the lock keeper", "postmaster.pid");
  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child < 0) {
    close(ends[0]);
    close(ends[1]);
    return IoError("could not start the lock keeper", "postmaster.pid");
  }
  if (child == 0) {
    close(ends[1]);
    for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2}) signal(s, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    if (geteuid() == 0 && (setgid(owner.gid) != 0 || setuid(owner.uid) != 0)) _exit(1);
    char c;
    while (read(ends[0], &c, 1) != 0 && errno == EINTR) {
    }
    _exit(0);
  }
  close(ends[0]);
  *write_end = ends[1];
  return child;
}

// Why an existing postmaster.pid stops us, or "" when it is a stale
// pgrescue lock we may take over (then `fd` holds its flock).
std::string JudgeExisting(const std::string& data_dir, const std::string& lock, bool take_over_stale, int* fd,
                          std::string* taken_over, std::string* rescue_dir) {
  const auto text = ReadSmallText(lock);
  const auto file = ParsePostmasterPid(text.value_or(""));
  if (!text || !file.writer_pid) {
    return "lock file \"postmaster.pid\" exists: a server is running, or crashed and left it. pgrescue-plan says "
           "which; stop the server, or after a crash make sure nothing uses the directory and remove "
           "postmaster.pid, then try again";
  }
  const std::string who = fmt::format("pgrescue PID {} ({})", *file.writer_pid, file.writer_command);
  *fd = open(lock.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (*fd < 0 || !Unheld(*fd)) {
    return fmt::format("{} is writing to this data directory and holds its lock, postmaster.pid; wait for it to "
                       "end, then try again", who);
  }
  if (!take_over_stale) {
    return fmt::format("postmaster.pid is the lock of {}, which stopped before it finished and may have left the "
                       "directory part-way; run `pgrescue-reset --undo -D {}` to put back what it changed (that "
                       "also removes the lock)", who, ShellQuote(data_dir));
  }
  *taken_over = fmt::format("took over the lock of {}, which stopped before it finished", who);
  *rescue_dir = file.writer_rescue_dir;
  return {};
}

std::string Absolute(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec);
  return ec ? path : p.string();
}

}  // namespace

std::string StaleLockRescueDir(const std::string& data_dir) {
  const auto text = ReadSmallText(data_dir + "/postmaster.pid");
  return text ? ParsePostmasterPid(*text).writer_rescue_dir : std::string();
}

Result<WriterLock> WriterLock::Take(const std::string& data_dir, const std::string& rescue_dir,
                                    bool take_over_stale) {
  WriterLock lock;
  lock.lock_path_ = data_dir + "/postmaster.pid";
  const std::string tmp = lock.lock_path_ + ".pgrescue-tmp";
  auto owner = DataFileOwner(data_dir);
  if (!owner) return owner.error();
  owner->mode = 0600 | (owner->mode & 0040);
  // A temporary name left by a killed run: ours when nobody holds it.
  if (rescue_io::Fd old(open(tmp.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)); old.get() >= 0) {
    const auto text = ReadSmallText(tmp);
    if (!Unheld(old.get())) return Refused("another pgrescue is taking this directory's lock now", tmp);
    if (!text || (!text->empty() && !ParsePostmasterPid(*text).writer_pid)) {
      return Refused("a file that is not pgrescue's has the name of its lock's temporary file; look at it and "
                     "remove it", tmp);
    }
    if (unlink(tmp.c_str()) != 0) return IoError("could not remove the lock's leftover temporary file", tmp);
  }
  int existing = -1;
  struct stat st {};
  if (lstat(lock.lock_path_.c_str(), &st) == 0) {
    const std::string why = JudgeExisting(data_dir, lock.lock_path_, take_over_stale, &existing, &lock.taken_over_,
                                          &lock.taken_over_rescue_dir_);
    if (!why.empty()) {
      if (existing >= 0) close(existing);
      return Refused(why, lock.lock_path_);
    }
  }
  rescue_io::Fd held_old(existing);
  auto keeper = StartKeeper(*owner, &lock.keeper_pipe_);
  if (!keeper) return keeper.error();
  lock.keeper_ = *keeper;
  // Line 2 is absolute, as the server writes it.
  const std::string text = FormatWriterLock(lock.keeper_, Absolute(data_dir), static_cast<int64_t>(time(nullptr)),
                                            getpid(), ProcessCommand(getpid()), Absolute(rescue_dir));
  // The name was free a moment ago (a leftover was removed above).
  auto fd = rescue_io::CreateOwned(tmp, *owner, true);
  if (!fd) {
    unlink(tmp.c_str());
    return fd.error();
  }
  lock.fd_ = dup(fd->get());
  if (lock.fd_ < 0 || flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) {
    unlink(tmp.c_str());
    return IoError("could not lock", tmp);
  }
  auto fail = [&](Error e) {
    unlink(tmp.c_str());
    return e;
  };
  if (auto r = rescue_io::WriteAll(fd->get(), reinterpret_cast<const uint8_t*>(text.data()), text.size(), tmp); !r) {
    return fail(r.error());
  }
  if (fsync(fd->get()) != 0) return fail(IoError("could not fsync", tmp));
  if (auto r = fd->Close(tmp); !r) return fail(r.error());
  // link() fails if a server created the file since we looked; rename()
  // replaces only the stale lock whose flock we hold.
  if (existing >= 0 ? rename(tmp.c_str(), lock.lock_path_.c_str()) != 0 : link(tmp.c_str(), lock.lock_path_.c_str()) != 0) {
    Error e = errno == EEXIST ? Refused("postmaster.pid appeared while pgrescue was taking the lock: a server is "
                                        "starting; stop it, then try again", lock.lock_path_)
                              : IoError("could not put the lock in place", lock.lock_path_);
    return fail(e);
  }
  // A second name of the lock is harmless; Release() tries again.
  if (existing < 0 && unlink(tmp.c_str()) != 0) lock.leftover_tmp_ = tmp;
  if (auto r = FsyncDir(data_dir); !r) {
    unlink(lock.lock_path_.c_str());
    return r.error();
  }
  return lock;
}

WriterLock::WriterLock(WriterLock&& other) noexcept
    : lock_path_(std::move(other.lock_path_)),
      fd_(other.fd_),
      keeper_pipe_(other.keeper_pipe_),
      keeper_(other.keeper_),
      taken_over_(std::move(other.taken_over_)),
      taken_over_rescue_dir_(std::move(other.taken_over_rescue_dir_)),
      leftover_tmp_(std::move(other.leftover_tmp_)) {
  other.fd_ = other.keeper_pipe_ = -1;
  other.keeper_ = -1;
}

WriterLock::~WriterLock() {
  if (taken_over_.empty()) (void)Release();
  KeepForUndo();
}

void WriterLock::EndKeeper() {
  if (keeper_pipe_ >= 0) close(keeper_pipe_);
  keeper_pipe_ = -1;
  if (keeper_ > 0) {
    while (waitpid(keeper_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  keeper_ = -1;
}

Status WriterLock::Release() {
  if (fd_ < 0) return Status::Ok();
  struct stat mine {}, there {};
  const bool ours = fstat(fd_, &mine) == 0 && lstat(lock_path_.c_str(), &there) == 0 && mine.st_ino == there.st_ino &&
                    mine.st_dev == there.st_dev;
  Status status = Status::Ok();
  if (ours && unlink(lock_path_.c_str()) != 0) {
    status = IoError("could not remove pgrescue's lock; the server removes it itself, since its PID no longer runs",
                     lock_path_);
  } else if (ours) {
    status = FsyncDir(rescue_io::Parent(lock_path_));
  }
  if (!leftover_tmp_.empty() && unlink(leftover_tmp_.c_str()) != 0 && status.ok()) {
    status = IoError("could not remove the lock's temporary file", leftover_tmp_);
  }
  close(fd_);
  fd_ = -1;
  EndKeeper();
  return status;
}

void WriterLock::KeepForUndo() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  EndKeeper();
}

}  // namespace pgrescue
