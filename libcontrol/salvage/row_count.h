// How many rows pg_dump wrote for each table, without reading them back.
//
// pg_dump is handed a snapshot this session exported (--snapshot), and
// while it dumps, the session counts each table's rows in that snapshot: a
// sequential count(*) FROM ONLY sees exactly the tuples pg_dump's COPY
// reads, since nobody else writes to a private server. A dump is bound by
// the one backend that copies its biggest table, so the count runs on a
// core that would idle; reading the data back would mean inflating all of
// it again. Where a count is missing (it failed, or the session broke when
// the server restarted after a crash), the data file is read instead.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/base/result.h"
#include "libcontrol/salvage/pq.h"
#include "libcontrol/salvage/tool_output.h"

namespace pgrescue {

class PrivateServer;

class SnapshotRowCounter {
 public:
  // Connects to `database`, opens a repeatable-read, read-only transaction
  // and exports its snapshot. The transaction stays open, and the snapshot
  // importable, until the counter goes: keep it until pg_dump has ended.
  static Result<SnapshotRowCounter> Begin(const PrivateServer& server, const std::string& database);

  // For pg_dump's --snapshot.
  const std::string& snapshot() const { return snapshot_; }

  // Each table's rows in the snapshot. A table whose count fails is left
  // out, and so is an extension's table (pg_dump may dump it filtered); a
  // failed count is undone to a savepoint, so the snapshot survives it. Not
  // thread-safe: one thread counts while pg_dump runs.
  std::map<TableKey, uint64_t> Count(const std::vector<TableKey>& tables);

 private:
  SnapshotRowCounter(Connection connection, std::string snapshot)
      : connection_(std::move(connection)), snapshot_(std::move(snapshot)) {}
  Connection connection_;
  std::string snapshot_;
};

// The rows in a data file of pg_dump's directory format, gzip-compressed
// (`<id>.dat.gz`) or not (`<id>.dat`): one a line, COPY's end marker and
// the blank lines after it not counted; nullopt when it cannot be read.
std::optional<uint64_t> CountCopyRows(const std::string& path);

}  // namespace pgrescue
