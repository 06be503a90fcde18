#include "libcontrol/salvage/dump.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include <fmt/format.h>

#include "libcontrol/salvage/databases.h"
#include "libcontrol/salvage/process.h"
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

// COPY text escapes newlines inside values, so a row is a line.

std::optional<uint64_t> CountCopyRows(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::vector<char> buffer(1 << 20);
  uint64_t lines = 0;
  ssize_t n = 0;
  std::string tail;
  while ((n = read(fd, buffer.data(), buffer.size())) > 0) {
    for (const char* p = buffer.data(); (p = static_cast<const char*>(memchr(p, '\n', buffer.data() + n - p)));) {
      ++lines;
      ++p;
    }
    tail += std::string(buffer.data() + std::max<ssize_t>(0, n - 16), buffer.data() + n);
    tail.erase(0, tail.size() > 16 ? tail.size() - 16 : 0);
  }
  close(fd);
  // pg_dump ends the data with COPY's end marker, a line "\." (a row never
  // is: COPY doubles backslashes), and blank lines after it.
  const size_t marker = tail.rfind("\\.\n");
  if (marker == std::string::npos || (marker > 0 && tail[marker - 1] != '\n')) return lines;
  return lines - static_cast<uint64_t>(std::count(tail.begin() + static_cast<ptrdiff_t>(marker), tail.end(), '\n'));
}

namespace {

// pg_restore -l's "<id>; <oid> <oid> TABLE DATA <schema> <table> <owner>" for
// each table, to its rows.
Result<std::map<std::pair<std::string, std::string>, uint64_t>> CountRows(const DumpRequest& r) {
  const std::string list_path = r.dir + ".list";
  auto run = RunProgram({r.programs.bindir + "/pg_restore", "--list", "--file=" + list_path, r.dir}, r.log_path);
  if (!run) return run.error();
  if (!run->ok()) return MakeError(ErrorCode::kIo, "pg_restore --list failed: " + run->output, r.dir);
  std::ifstream in(list_path);
  const std::string listing((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::pair<std::string, std::string>, uint64_t> rows;
  const auto ids = TableDataIds(listing);
  for (const auto& [table, oid] : r.tables) {
    const auto id = ids.find(oid);
    if (id == ids.end()) continue;  // not in the dump: excluded, or an extension's table
    const auto lines = CountCopyRows(fmt::format("{}/{}.dat", r.dir, id->second));
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

std::vector<std::string> DumpArgs(const DumpRequest& r, const std::set<TableKey>& excluded, bool schema_only) {
  std::vector<std::string> argv = {r.programs.bindir + "/pg_dump"};
  for (auto& a : r.server->ClientArgs()) argv.push_back(a);
  for (auto a : {"--format=directory", "--compress=0"}) argv.push_back(a);
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

std::string Tail(const std::string& text) { return text.substr(text.size() > 2000 ? text.size() - 2000 : 0); }

}  // namespace

Result<DumpResult> DumpDatabase(const DumpRequest& r) {
  DumpResult out;
  out.excluded = r.exclude;
  std::string why;
  // Attempts that blamed no table; one more is worth it only when a crash
  // (another database's, dumped at the same time) explains the failure.
  for (int fruitless = 0; fruitless < 3;) {
    std::error_code ec;
    fs::remove_all(r.dir, ec);
    const uint64_t log_at = FileSize(r.server->log_path());
    auto run = RunProgram(DumpArgs(r, out.excluded, false), r.log_path);
    if (!run) return run.error();
    if (run->ok()) {
      auto rows = CountRows(r);
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
      ++fruitless;
      if (!ServerCrashed(server_log)) break;
    }
  }
  // The schema alone, so that the rows copied by block have tables to go to.
  std::error_code ec;
  fs::remove_all(r.dir, ec);
  auto run = RunProgram(DumpArgs(r, {}, true), r.log_path);
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
