// Whether anything still uses a data directory, the way PostgreSQL's own
// startup interlock judges it and more: the postmaster named in
// postmaster.pid, the System V shared memory segment every backend stays
// attached to, and every process whose working directory or open files lie
// in the directory, its tablespaces or its WAL directory. A postmaster
// killed with -9 leaves backends that still commit; its PID alone says
// nothing about them.
//
// Nothing here writes, signals or throws. Reading a segment's header
// attaches it read-only for an instant, which the kernel records as the
// segment's last attach (shm_lpid, shm_atime). What cannot be looked at
// (other users' processes when not root, a segment we may not read, no
// /proc) is listed in `limits`: an empty `users` with non-empty `limits`
// means "nothing seen", not "nothing there". A process in a container
// (another mount namespace) is found by its working directory's inode; its
// open files' paths, and its shared memory in another IPC namespace, may
// not be comparable from here, which `limits` says.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libcontrol/cluster/postmaster_pid.h"

namespace pgrescue {

// Some process holds the flock of pgrescue's lock file `path` (its writer,
// alive); false when none does or the file cannot be opened.
bool WriterLockHeld(const std::string& path);

// /proc/<pid>/cmdline with spaces for NULs, at most ~120 characters.
std::string ProcessCommand(long pid);

struct DirectoryUser {
  long pid = 0;
  std::string command;  // /proc/<pid>/cmdline, NULs as spaces, at most ~120 characters
  std::string how;      // every reason found, joined by "; "
};

// One System V segment, from shmctl(IPC_STAT) and its PostgreSQL header.
struct SharedMemoryState {
  uint64_t key = 0;
  int64_t id = 0;
  bool exists = false;
  uint64_t attached = 0;  // shm_nattch
  std::optional<long> creator_pid, last_pid;
  // The header's magic, device and inode name this data directory, as the
  // server checks before it refuses to start; nullopt when nothing is
  // attached (not looked at) or the header could not be read. IDs are
  // reused, so a stale line 7 often names another cluster's segment.
  std::optional<bool> this_directory;
  bool from_pid_file = true;  // false: found among all segments (line 7 missing or stale)
};

struct LiveCheck {
  std::optional<PostmasterPidFile> pid_file;
  std::string pid_file_text;              // as read, up to what the server reads
  bool postmaster_alive = false;          // the PID in postmaster.pid runs now (kill 0 or EPERM, not a zombie)
  bool postmaster_zombie = false;         // exited but not reaped: the server still counts it as alive
  bool server_would_see_pid = false;      // that PID exists and is the directory owner's: the server's kill() succeeds
  bool writer_lock_held = false;          // postmaster.pid is pgrescue's lock and its flock is held
  std::optional<SharedMemoryState> shared_memory;
  std::vector<DirectoryUser> users;       // every process found, ours excluded, sorted by pid
  std::vector<std::string> limits;        // what could not be checked and why

  // The postmaster runs, or a segment of this directory (or one whose owner
  // is unknown) has processes attached, or any process uses the directory.
  bool in_use() const;
  // An attached segment that is this directory's, or whose owner is unknown.
  bool segment_in_use() const;
  // postmaster.pid is pgrescue's lock (line 9), held now or left stale by a
  // run that stopped before it finished.
  bool writer_lock() const { return pid_file && pid_file->writer_pid; }
  // By flock alone: the PIDs in it may have been reused since.
  bool stale_writer_lock() const { return writer_lock() && !writer_lock_held; }

  // What uses the directory, one line each, for plans and refusals: the
  // running postmaster, an attached segment (as in_use() counts it), and
  // every other process with its command and how it uses the directory.
  std::vector<std::string> Describe() const;

  // The FATAL message a server started on this directory now would stop
  // with, or empty when neither its lock file check nor its shared memory
  // check would stop it. Wording of 10-18 (their binaries); the lock file
  // and shared memory messages are unchanged since 8.x. A segment found
  // without line 7 is reported as the server finds it when it probes keys
  // (from the data directory's inode in current releases).
  std::string PostgresWouldSay() const;
};

// When no postmaster runs but something else uses the directory, asks
// again for up to 2 s before answering: a server that has just removed its
// postmaster.pid (and so let `pg_ctl stop` return) is still exiting.
LiveCheck CheckDirectoryUse(const std::string& data_dir);

}  // namespace pgrescue
