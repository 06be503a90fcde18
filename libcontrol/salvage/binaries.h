// Which PostgreSQL programs salvage runs. The server must be the cluster's
// own major version: another one refuses the data directory, or worse, an
// older minor of it may not know its WAL. pg_dump must be the server's
// major or newer (older ones refuse newer servers), and pg_restore and psql
// come from pg_dump's directory.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "libcontrol/base/result.h"

namespace pgrescue {

struct PostgresPrograms {
  std::string bindir;
  std::string version;  // "15.18", as --version prints it
  std::string major;    // "15", "9.6": as PG_VERSION spells it
};

// "9.6", "15" as a number that orders majors: 906, 1500.
int MajorNumber(const std::string& major);

// `program` in `bindir` --version: "pg_dump (PostgreSQL) 15.18 (Debian ...)"
// gives version 15.18, major 15.
std::optional<PostgresPrograms> ProgramVersion(const std::string& bindir, const std::string& program);

// The server (postgres, pg_ctl, initdb) of `major`: from `bindir` when given
// (refused, with the reason, when it is another major), else pg_config's
// bindir, Debian's /usr/lib/postgresql/<major>/bin, then PATH.
Result<PostgresPrograms> FindServer(const std::string& major, const std::string& bindir);

// pg_dump of `major` or newer, with pg_dumpall, pg_restore and psql beside
// it: `bindir` first, then the newest of Debian's /usr/lib/postgresql/*/bin,
// pg_config's bindir and PATH. nullopt with the reason when there is none.
struct DumpPrograms {
  std::optional<PostgresPrograms> found;
  std::string missing;  // why there is none: every directory looked at
};
DumpPrograms FindDump(const std::string& major, const std::string& bindir);

}  // namespace pgrescue
