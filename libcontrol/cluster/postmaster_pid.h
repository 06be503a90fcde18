// postmaster.pid's format: as PostgreSQL writes it, and as pgrescue writes
// it for its own lock (reset/writer_lock.h). Reader and writer share it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgrescue {

// postmaster.pid as PostgreSQL writes it, one value a line. The server adds
// lines after creating the file, so a crash during startup leaves fewer.
// A value is nullopt when its line is absent or does not parse; an empty
// string means the line is there but empty (no socket, no TCP address).
struct PostmasterPidFile {
  std::string text_first_line;        // as written, for messages
  std::optional<long> pid;            // absolute value; single_user says if it was negative
  bool single_user = false;           // a standalone backend writes its PID negated
  std::optional<std::string> data_dir;
  std::optional<int64_t> start_time;  // seconds since the epoch
  std::optional<std::string> port, socket_dir, listen_addr;
  std::optional<std::string> status;  // 10+: "starting", "ready", "stopping", "standby" (padding removed)
  std::optional<uint64_t> shm_key;    // IPC key, line 7
  std::optional<int64_t> shm_id;      // shmget's ID, line 7
  // Line 9, which no server writes: "pgrescue-lock <PID> <command>" in a
  // lock pgrescue holds while it writes (reset/writer_lock.h). Line 1 is
  // then its keeper's PID.
  std::optional<long> writer_pid;
  std::string writer_command;
  std::string writer_rescue_dir;  // line 10, "pgrescue-rescue-dir <path>": where it keeps what it replaces
};

// The text of pgrescue's lock: postmaster.pid's lines as a server writes
// them (no port, socket or shared memory), then lines 9 and 10.
std::string FormatWriterLock(long keeper_pid, const std::string& data_dir, int64_t start_time, long writer_pid,
                             const std::string& writer_command, const std::string& rescue_dir);


// Never fails: missing or malformed lines stay empty.
PostmasterPidFile ParsePostmasterPid(std::string_view text);

}  // namespace pgrescue
