// One writer at a time, and no server beside it. While pgrescue writes to a
// data directory it holds postmaster.pid there, the lock PostgreSQL itself
// honours: a server started meanwhile stops with "lock file
// "postmaster.pid" already exists", and a second pgrescue writer refuses,
// naming the first.
//
// The server's check is kill(pid, 0) as the directory's owner, and it takes
// EPERM for "not mine, stale". So the PID in the file is not pgrescue's
// (often root's) but a keeper's: a child that takes the owner's user ID,
// ignores the signals `pg_ctl stop` sends, and exits when pgrescue closes
// its pipe or dies. The file's ninth line, which no server writes, names
// the pgrescue process and its command (liveness.h reads it).
//
// Whether a lock is held is decided by flock(2) on the file, never by its
// PIDs, which the kernel reuses: a holder dies, its flock goes with it. A
// lock left by a killed run is stale; only --undo takes it over, since the
// run may have stopped part-way. The file is made as <lock>.pgrescue-tmp
// (owner and mode first, then the bytes, fsynced) and linked into place, so
// nobody ever reads half of it.
#pragma once

#include <sys/types.h>

#include <string>

#include "libcontrol/base/result.h"
#include "libcontrol/reset/rescue.h"

namespace pgrescue {

class WriterLock {
 public:
  // Takes `data_dir`'s lock. Refuses (kInvalidArgument, with what to do)
  // when postmaster.pid exists: a server's, a live pgrescue writer's, or a
  // stale pgrescue lock unless `take_over_stale`. Writes nothing then.
  // `rescue_dir` is written into the lock (line 10): where --undo finds
  // what a run that stops part-way had done.
  static Result<WriterLock> Take(const std::string& data_dir, const std::string& rescue_dir, bool take_over_stale);

  WriterLock(WriterLock&& other) noexcept;
  WriterLock& operator=(WriterLock&&) = delete;
  WriterLock(const WriterLock&) = delete;
  // Release(), or KeepForUndo() for a lock taken over: what was part-way
  // stays so until a call says otherwise.
  ~WriterLock();

  // The stale lock taken over, in a line for the report; empty if none.
  const std::string& taken_over() const { return taken_over_; }
  // That lock's rescue folder, as written (absolute); empty if none.
  const std::string& taken_over_rescue_dir() const { return taken_over_rescue_dir_; }

  // Removes postmaster.pid (if it is still this lock's) and ends the
  // keeper. A failure is only a warning to pass on: a lock whose keeper is
  // gone is stale, and the server removes a stale one itself.
  Status Release();

  // The run stopped part-way: the file stays, so that no other pgrescue
  // writer but --undo goes on. The keeper ends, which makes it stale, and
  // line 1 of a lock this run made becomes 0 (with the --undo command after
  // it), which the server refuses as bogus data rather than take for stale.
  // A run killed outright leaves the keeper's dead PID: the server then
  // removes the lock and starts, as it would after any crash.
  void KeepForUndo();

 private:
  WriterLock() = default;
  void EndKeeper();

  std::string lock_path_;
  int fd_ = -1;          // the lock file, flock()ed
  int keeper_pipe_ = -1;  // its closing ends the keeper
  pid_t keeper_ = -1;
  std::string taken_over_, taken_over_rescue_dir_;
  std::string leftover_tmp_;  // the temporary name, when removing it failed
  std::string stopped_line_;  // line 1 when the run stops part-way
  FileOwner owner_;
};

// The rescue folder named by `data_dir`'s stale pgrescue lock, if there is
// one: the folder --undo must start with.
std::string StaleLockRescueDir(const std::string& data_dir);

}  // namespace pgrescue
