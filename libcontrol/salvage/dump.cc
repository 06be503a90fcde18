#include "libcontrol/salvage/dump.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "libcontrol/salvage/databases.h"
#include "libcontrol/salvage/process.h"
#include "libcontrol/salvage/row_count.h"
#include "libcontrol/salvage/tool_output.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

// A pattern pg_dump matches against exactly one name: double quotes make
// every character literal.
std::string ExactPattern(const std::pair<std::string, std::string>& t) {
  return Connection::QuoteIdent(t.first) + "." + Connection::QuoteIdent(t.second);
}

}  // namespace

namespace {

// pg_restore -l's "<id>; <oid> <oid> TABLE DATA <schema> <table> <owner>" for
// each table, to its rows: as counted in the dump's snapshot, else from its
// data file.
Result<std::map<TableKey, uint64_t>> CountRows(const DumpRequest& r, const std::map<TableKey, uint64_t>& counted) {
  const std::string list_path = r.dir + ".list";
  auto run = RunProgram({r.programs.bindir + "/pg_restore", "--list", "--file=" + list_path, r.dir}, r.log_path);
  if (!run) return run.error();
  if (!run->ok()) return MakeError(ErrorCode::kIo, "pg_restore --list failed: " + run->output, r.dir);
  std::ifstream in(list_path);
  const std::string listing((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<TableKey, uint64_t> rows;
  const auto ids = TableDataIds(listing);
  for (const auto& [table, oid] : r.tables) {
    const auto id = ids.find(oid);
    if (id == ids.end()) continue;  // not in the dump: excluded, or an extension's table
    if (const auto n = counted.find(table); n != counted.end()) {
      rows[table] = n->second;
      continue;
    }
    const std::string data = fmt::format("{}/{}.dat", r.dir, id->second);
    const auto lines = CountCopyRows(fs::exists(data + ".gz") ? data + ".gz" : data);
    if (!lines) {
      return MakeError(ErrorCode::kIo, fmt::format("cannot read {}.dat, the data of {}.{}", id->second, table.first, table.second),
                       r.dir);
    }
    rows[table] = *lines;
  }
  return rows;
}

}  // namespace

namespace {

std::vector<std::string> DumpArgs(const DumpRequest& r, const std::set<TableKey>& excluded, bool schema_only,
                                  const std::string& snapshot) {
  std::vector<std::string> argv = {r.programs.bindir + "/pg_dump"};
  for (auto& a : r.server->ClientArgs()) argv.push_back(a);
  // gzip's fastest level: pg_dump's default level makes its worker, not
  // the server's COPY, the slowest part of a big table's dump.
  for (auto a : {"--format=directory", "--compress=1"}) argv.push_back(a);
  if (!snapshot.empty()) argv.push_back("--snapshot=" + snapshot);
  if (MajorNumber(r.programs.major) >= 1000) argv.push_back("--no-sync");  // the copy is thrown away on a crash anyway
  argv.push_back(fmt::format("--jobs={}", r.jobs));
  argv.push_back("--file=" + r.dir);
  if (schema_only) argv.push_back("--schema-only");
  for (const auto& t : excluded) argv.push_back("--exclude-table-data=" + ExactPattern(t));
  argv.push_back(DatabaseArg(r.database));
  return argv;
}

uint64_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

std::string ReadFrom(const std::string& path, uint64_t offset) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// pg_dump on a snapshot a counter exported, counting the rows of the tables
// it dumps meanwhile. Without a counter (a session could not be opened)
// pg_dump takes its own snapshot and nothing is counted.
std::pair<Result<ProgramRun>, std::map<TableKey, uint64_t>> DumpWhileCounting(const DumpRequest& r,
                                                                             const std::set<TableKey>& excluded) {
  auto counter = SnapshotRowCounter::Begin(*r.server, r.database);
  std::map<TableKey, uint64_t> counted;
  // A jthread: joined however this scope ends.
  std::jthread counting;
  if (counter) {
    std::vector<TableKey> to_count;
    for (const auto& [t, oid] : r.tables) {
      if (!excluded.contains(t)) to_count.push_back(t);
    }
    counting = std::jthread([&counter, &counted, to_count] { counted = counter->Count(to_count); });
  }
  auto run = RunProgram(DumpArgs(r, excluded, false, counter ? counter->snapshot() : ""), r.log_path);
  if (counting.joinable()) counting.join();
  return {std::move(run), std::move(counted)};
}

std::string Tail(const std::string& text) { return text.substr(text.size() > 2000 ? text.size() - 2000 : 0); }

}  // namespace

Result<DumpResult> DumpDatabase(const DumpRequest& r) {
  DumpResult out;
  out.excluded = r.exclude;
  std::string why;
  // Attempts that blamed no table. One explained by a crash (another
  // database's, dumped at the same time) is worth another: each such crash
  // makes that database leave out one more table, so they end. Counting
  // them as failures once sent an undamaged database's tables to the
  // copy by block when three crashes elsewhere happened to fall during its
  // dumps (seen on a loaded machine).
  for (int crashes_elsewhere = 0; crashes_elsewhere < 32;) {
    std::error_code ec;
    fs::remove_all(r.dir, ec);
    const uint64_t log_at = FileSize(r.server->log_path());
    auto [run, counted] = DumpWhileCounting(r, out.excluded);
    if (!run) return run.error();
    if (run->ok()) {
      auto rows = CountRows(r, counted);
      if (!rows) return rows.error();
      out.rows = std::move(*rows);
      return out;
    }
    why = Tail(run->output);
    const std::string server_log = ReadFrom(r.server->log_path(), log_at);
    auto blamed = TablesServerCrashedOn(server_log);
    if (blamed.empty() && !ServerCrashed(server_log)) blamed = TablesPgDumpCouldNotRead(run->output);
    size_t added = 0;
    for (const auto& [schema, name] : blamed) {
      for (const auto& [t, oid] : r.tables) {
        if ((schema.empty() || t.first == schema) && t.second == name && out.excluded.insert(t).second) ++added;
      }
    }
    // A crashed server process restarts the server, which recovers first.
    if (auto ready = r.server->WaitReady(300); !ready) return ready.error();
    if (added == 0) {
      if (!ServerCrashed(server_log)) break;
      ++crashes_elsewhere;
    }
  }
  // The schema alone, so that the rows copied by block have tables to go to.
  std::error_code ec;
  fs::remove_all(r.dir, ec);
  auto run = RunProgram(DumpArgs(r, {}, true, ""), r.log_path);
  if (!run) return run.error();
  if (!run->ok()) return MakeError(ErrorCode::kIo, "pg_dump failed: " + why + "; even --schema-only: " + Tail(run->output), r.database);
  for (const auto& [t, oid] : r.tables) out.excluded.insert(t);
  out.schema_only_because = why;
  return out;
}

Status DumpGlobals(const PrivateServer& server, const PostgresPrograms& programs, const std::string& path,
                   const std::string& log_path) {
  std::vector<std::string> argv = {programs.bindir + "/pg_dumpall"};
  for (auto& a : server.ClientArgs()) argv.push_back(a);
  argv.push_back("--globals-only");
  // A new cluster on this machine cannot have the original's tablespace locations.
  argv.push_back("--no-tablespaces");
  argv.push_back("--file=" + path);
  auto run = RunProgram(argv, log_path);
  if (!run) return run.error();
  if (!run->ok()) return MakeError(ErrorCode::kIo, "pg_dumpall --globals-only failed: " + run->output, path);
  return {};
}

}  // namespace pgrescue
