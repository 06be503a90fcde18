// Salvage per database: list each one and its tables, dump them all at
// once (one pg_dump each, so a small database's fixed cost hides behind the
// big one's), copy by block what pg_dump could not read, and the restore
// steps, in the order they must run.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "libcontrol/base/result.h"
#include "libcontrol/salvage/binaries.h"
#include "libcontrol/salvage/private_server.h"
#include "libcontrol/salvage/reload.h"
#include "libcontrol/salvage/salvage_report.h"
#include "libcontrol/salvage/salvage_tables.h"
#include "libcontrol/salvage/tool_output.h"

namespace pgrescue {

// What every database's work shares; lives as long as the run.
struct DatabaseWork {
  const PrivateServer* server = nullptr;
  std::optional<PostgresPrograms> pg_dump;
  int server_major = 0;  // MajorNumber
  std::string out_dir;
  unsigned jobs = 1;
  bool zero_damaged_pages = false;
  bool may_allow_connections = false;  // a copy: a database closed to connections may be opened
  const PageDamage* damage = nullptr;
  std::string worked_on;               // where damaged blocks' line pointers are read
  uint32_t block_size = 8192;
  uint64_t blocks_per_segment = 131072;
  std::function<void(const std::string&)> say;
};

struct Database {
  DatabaseOutcome outcome;
  std::string encoding;  // its own: the COPY data is in it
  std::vector<TableToCopy> tables;
  std::set<TableKey> by_block;  // known unreadable, then whatever pg_dump could not read
  std::map<TableKey, uint64_t> dumped_rows;
};

// Every database but template0; one closed to connections is opened on a
// copy, else recorded as a problem.
Result<std::vector<Database>> ListDatabases(const DatabaseWork& work, Connection& connection,
                                            std::vector<std::string>* warnings);

// pg_dump of every database at once (and pg_dumpall --globals-only into
// `globals` beside them, when not empty).
void DumpDatabases(const DatabaseWork& work, const std::string& globals, std::vector<Database>* databases,
                   std::vector<std::string>* warnings);

// The by-block copy of what was not dumped, into salvaged/<oid>-<name>.sql;
// then every table's outcome.
void CopyUnreadTables(const DatabaseWork& work, Database* database, std::vector<std::string>* zeroed);

// The commands that restore `database` into a new cluster, in order.
std::vector<RestoreStep> RestoreSteps(const DatabaseWork& work, const DatabaseOutcome& database);

// A database as psql, pg_dump and pg_restore take it: a plain name as is,
// others as a connection string so that "=" or a leading "-" mean nothing.
std::string DatabaseArg(const std::string& name);

}  // namespace pgrescue
