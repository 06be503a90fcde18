// pg_dump's part of a salvage: roles and tablespaces with pg_dumpall, then
// each database in directory format with parallel jobs, leaving out the
// data of tables it cannot read. A table whose COPY fails stops pg_dump;
// its name is taken from pg_dump's message and the database dumped again
// without that table's data, until a dump succeeds.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "libcontrol/base/result.h"
#include "libcontrol/salvage/binaries.h"
#include "libcontrol/salvage/private_server.h"

namespace pgrescue {

struct DumpRequest {
  const PrivateServer* server = nullptr;
  PostgresPrograms programs;  // pg_dump's directory
  std::string database;
  std::string dir;            // the dump's directory; must not exist
  std::string log_path;
  unsigned jobs = 1;
  // Every table by (schema, name), with its OID; those in `exclude` are
  // dumped without data.
  std::map<std::pair<std::string, std::string>, uint32_t> tables;
  std::set<std::pair<std::string, std::string>> exclude;
};

struct DumpResult {
  std::set<std::pair<std::string, std::string>> excluded;  // by request and found failing
  std::map<std::pair<std::string, std::string>, uint64_t> rows;  // per dumped table (row_count.h)
  // Set when no table could be blamed for pg_dump's failure and only the
  // schema was dumped (every table then excluded): pg_dump's words.
  std::string schema_only_because;
};

// Dumps without the data of each table pg_dump (or the server's log, when
// a server process crashed) names as failing, until a dump succeeds. When
// a failure names no table, the schema alone is dumped; fails when even
// that fails.
Result<DumpResult> DumpDatabase(const DumpRequest& request);

// pg_dumpall --globals-only into `path`.
Status DumpGlobals(const PrivateServer& server, const PostgresPrograms& programs, const std::string& path,
                   const std::string& log_path);

}  // namespace pgrescue
