#include "libcontrol/reset/writer_lock.h"

#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>

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

// Process `pid` is alive (not exiting) with real user ID `uid`.
bool RunsAs(pid_t pid, uid_t uid) {
  // procfs files say size 0, so not ReadSmallText.
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  const std::string* status = &text;
  const size_t state = status->find("\nState:\t"), ids = status->find("\nUid:\t");
  if (state == std::string::npos || ids == std::string::npos) return false;
  const char code = status->c_str()[state + 8];
  return code != 'Z' && code != 'X' && std::strtoul(status->c_str() + ids + 6, nullptr, 10) == uid;
}

// The keeper: the owner's user, deaf to the signals `pg_ctl stop` and a
// terminal send, alive until the pipe's other end closes. Between fork and
// _exit only async-signal-safe calls: the parent may have threads.
Result<pid_t> StartKeeper(const FileOwner& owner, int* write_end) {
  int ends[2], ready[2];
  if (pipe2(ends, O_CLOEXEC) != 0) return IoError("could not make a pipe for the lock keeper", "postmaster.pid");
  if (pipe2(ready, O_CLOEXEC) != 0) {
    close(ends[0]);
    close(ends[1]);
    return IoError("could not make a pipe for the lock keeper", "postmaster.pid");
  }
  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child < 0) {
    for (int fd : {ends[0], ends[1], ready[0], ready[1]}) close(fd);
    return IoError("could not start the lock keeper", "postmaster.pid");
  }
  if (child == 0) {
    close(ends[1]);
    close(ready[0]);
    for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2}) signal(s, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, "pgrescue-lock");  // what ps shows: not a second reset to kill
    if (getppid() != parent) _exit(0);
    if (geteuid() == 0 && (setgroups(0, nullptr) != 0 || setgid(owner.gid) != 0 || setuid(owner.uid) != 0)) _exit(1);
    close(ready[1]);  // no write: the crash tests count every write-side call, and their order
    char c;
    while (read(ends[0], &c, 1) != 0 && errno == EINTR) {
    }
    _exit(0);
  }
  close(ends[0]);
  close(ready[1]);
  *write_end = ends[1];
  // The keeper is ready once it closes its end; then it must have the
  // owner's user ID, or the server could not see it.
  char c;
  while (read(ready[0], &c, 1) < 0 && errno == EINTR) {
  }
  close(ready[0]);
  if (!RunsAs(child, geteuid() == 0 ? owner.uid : geteuid())) {
    close(ends[1]);
    while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
    errno = EPERM;
    return IoError("the lock keeper could not take the data directory owner's user ID", "postmaster.pid");
  }
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

// Puts `tmp` in place of the stale lock flocked through `held`, by an
// exchange: a server may have removed that lock and written its own since,
// and its own is then put back, not lost.
Status ReplaceStale(const std::string& tmp, const std::string& lock, int held) {
  if (renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, lock.c_str(), RENAME_EXCHANGE) != 0) {
    if (errno != EINVAL && errno != ENOSYS) return IoError("could not put the lock in place", lock);
    // No exchange on this filesystem (NFS): a plain rename, with the server's own window.
    if (rename(tmp.c_str(), lock.c_str()) != 0) return IoError("could not put the lock in place", lock);
    return Status::Ok();
  }
  struct stat was {}, stale {};
  if (stat(tmp.c_str(), &was) != 0 || fstat(held, &stale) != 0 || was.st_ino != stale.st_ino ||
      was.st_dev != stale.st_dev) {
    renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, lock.c_str(), RENAME_EXCHANGE);
    return Refused("postmaster.pid was replaced while pgrescue was taking over the stale lock: a server is "
                   "starting; stop it, then try again", lock);
  }
  return Status::Ok();
}

std::string Absolute(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec);
  return ec ? path : p.string();
}

}  // namespace

std::string StaleLockRescueDir(const std::string& data_dir) {
  const std::string lock = data_dir + "/postmaster.pid";
  const auto text = ReadSmallText(lock);
  if (!text) return {};
  return WriterLockHeld(lock) ? std::string() : ParsePostmasterPid(*text).writer_rescue_dir;
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
  lock.owner_ = *owner;
  lock.stopped_line_ = fmt::format("0 (pgrescue-reset stopped part-way: put the directory back with "
                                   "pgrescue-reset --undo -D {} before starting a server)",
                                   ShellQuote(Absolute(data_dir)));
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
  // link() fails if a server created the file since we looked.
  if (existing >= 0) {
    if (auto r = ReplaceStale(tmp, lock.lock_path_, existing); !r) return fail(r.error());
  } else if (link(tmp.c_str(), lock.lock_path_.c_str()) != 0) {
    return fail(errno == EEXIST ? Refused("postmaster.pid appeared while pgrescue was taking the lock: a server "
                                          "is starting; stop it, then try again", lock.lock_path_)
                                : IoError("could not put the lock in place", lock.lock_path_));
  }
  // The temporary name now holds the lock (a second name) or the stale one
  // replaced; either is harmless, and Release() tries again.
  if (unlink(tmp.c_str()) != 0 && errno != ENOENT) lock.leftover_tmp_ = tmp;
  // On failure the destructor decides: a fresh lock goes, a taken-over one stays.
  if (auto r = FsyncDir(data_dir); !r) return r.error();
  return lock;
}

WriterLock::WriterLock(WriterLock&& other) noexcept
    : lock_path_(std::move(other.lock_path_)),
      fd_(other.fd_),
      keeper_pipe_(other.keeper_pipe_),
      keeper_(other.keeper_),
      taken_over_(std::move(other.taken_over_)),
      taken_over_rescue_dir_(std::move(other.taken_over_rescue_dir_)),
      leftover_tmp_(std::move(other.leftover_tmp_)),
      stopped_line_(std::move(other.stopped_line_)),
      owner_(other.owner_) {
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
    status = IoError(fmt::format("could not remove pgrescue's lock, though its work is done: remove it with rm -- {} "
                                 "(pgrescue takes it for the lock of a run that stopped part-way)",
                                 ShellQuote(lock_path_)),
                     lock_path_);
  } else if (ours) {
    status = FsyncDir(rescue_io::Parent(lock_path_));
  }
  if (!leftover_tmp_.empty() && unlink(leftover_tmp_.c_str()) != 0 && errno != ENOENT && status.ok()) {
    status = IoError("could not remove the lock's temporary file", leftover_tmp_);
  }
  close(fd_);
  fd_ = -1;
  EndKeeper();
  return status;
}

void WriterLock::KeepForUndo() {
  // Our own lock, left part-way: its first line becomes 0, so that a server
  // started now stops with "bogus data in lock file" and quotes the file,
  // the way to --undo included, instead of taking the lock for stale.
  if (fd_ >= 0 && taken_over_.empty() && !stopped_line_.empty()) {
    const auto text = ReadSmallText(lock_path_);
    const size_t nl = text ? text->find('\n') : std::string::npos;
    if (nl != std::string::npos) {
      const std::string marked = stopped_line_ + text->substr(nl);
      (void)WriteFileAtomically(lock_path_, {reinterpret_cast<const uint8_t*>(marked.data()), marked.size()}, 0,
                                owner_);
    }
  }
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  EndKeeper();
}

}  // namespace pgrescue
