// What salvage reads from PostgreSQL's programs and server: their version
// line, pg_dump's failure message, pg_restore's listing, and the warning
// zero_damaged_pages gives. Each parser takes any text and never fails:
// what does not match is left out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgrescue {

// "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> {"15.18", "15"};
// "postgres (PostgreSQL) 9.6.24" -> {"9.6.24", "9.6"}.
struct VersionLine {
  std::string version, major;
};
std::optional<VersionLine> ParseVersionLine(std::string_view line);

using TableKey = std::pair<std::string, std::string>;  // schema, table

// The tables whose COPY failed in pg_dump's output: from "Dumping the
// contents of table "t" failed" (no schema: first is empty) and from the
// statement it quotes, "Query was: COPY public.t (...) TO stdout;" (as
// pg_dump quotes names: only where needed), which a crashed server process
// leaves as the only trace.
std::set<TableKey> TablesPgDumpCouldNotRead(std::string_view output);

// The tables whose COPY a crashed server process was running, from the
// server's log: "server process (PID n) was terminated by signal 11" then
// "Failed process was running: COPY public.t (...) TO stdout;". In a
// parallel pg_dump the other worker, terminated by the restart, often gets
// the blame in pg_dump's own output; the server's log does not err.
std::set<TableKey> TablesServerCrashedOn(std::string_view server_log);

// Whether a server process crashed in `server_log` (the restart that
// follows may not be logged yet).
bool ServerCrashed(std::string_view server_log);

// From pg_restore -l: "3352; 0 16602 TABLE DATA public c postgres" gives
// the dump ID 3352 (its data is 3352.dat) of the table with OID 16602. By
// OID: names with spaces make the rest of the line ambiguous.
std::map<uint32_t, uint64_t> TableDataIds(std::string_view listing);

// "invalid page in block 3 of relation base/16384/16385; zeroing out page"
// -> {3, "base/16384/16385"}.
std::optional<std::pair<uint64_t, std::string>> ZeroedBlock(std::string_view notice);

}  // namespace pgrescue
