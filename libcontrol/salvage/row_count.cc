#include "libcontrol/salvage/row_count.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "libcontrol/salvage/private_server.h"

namespace pgrescue {

Result<SnapshotRowCounter> SnapshotRowCounter::Begin(const PrivateServer& server, const std::string& database) {
  auto c = server.Connect(database);
  if (!c) return c.error();
  // A heap scan, as COPY's: an index-only count trusts the visibility map
  // and the index, either of which may be damaged. One process: the other
  // core is pg_dump's. No timeout may end the transaction while pg_dump's
  // workers still need its snapshot (pg_dump turns the same ones off for
  // itself). Set only where the server has the setting.
  auto set = c->Query(
      "SELECT set_config(name, CASE WHEN name LIKE 'enable%' THEN 'off' ELSE '0' END, false) FROM pg_settings "
      "WHERE name IN ('enable_indexscan', 'enable_indexonlyscan', 'enable_bitmapscan', "
      "'max_parallel_workers_per_gather', 'idle_in_transaction_session_timeout', 'transaction_timeout')");
  if (!set) return set.error();
  if (auto begin = c->Execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !begin) return begin.error();
  auto snapshot = c->Value("SELECT pg_export_snapshot()");
  if (!snapshot) return snapshot.error();
  return SnapshotRowCounter(std::move(*c), *snapshot);
}

std::map<TableKey, uint64_t> SnapshotRowCounter::Count(const std::vector<TableKey>& tables) {
  std::map<TableKey, uint64_t> rows;
  // An extension's configuration table is dumped through the filter the
  // extension registered (pg_extension_config_dump), not whole: its rows
  // are counted from the data file instead.
  std::set<TableKey> members;
  auto listed = connection_.Query(
      "SELECT n.nspname, c.relname FROM pg_depend d JOIN pg_class c ON c.oid = d.objid "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'");
  if (!listed) return rows;
  for (const auto& m : *listed) members.emplace(m[0].value_or(""), m[1].value_or(""));
  for (const auto& t : tables) {
    if (members.contains(t)) continue;
    if (connection_.Broken() || !connection_.Execute("SAVEPOINT counting")) break;
    auto n = connection_.Value("SELECT count(*) FROM ONLY " + Connection::QuoteIdent(t.first) + "." +
                               Connection::QuoteIdent(t.second));
    if (!n) {
      if (!connection_.Execute("ROLLBACK TO SAVEPOINT counting")) break;
      continue;
    }
    rows[t] = std::stoull(*n);
    if (!connection_.Execute("RELEASE SAVEPOINT counting")) break;
  }
  return rows;
}

// COPY text escapes newlines inside values, so a row is a line.
std::optional<uint64_t> CountCopyRows(const std::string& path) {
  // gzread passes a file that is not gzip through as it is.
  gzFile in = gzopen(path.c_str(), "rbe");
  if (in == nullptr) return std::nullopt;
  gzbuffer(in, 1 << 17);
  std::vector<char> buffer(1 << 20);
  uint64_t lines = 0;
  int n = 0;
  std::string tail;
  while ((n = gzread(in, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0) {
    const char* end = buffer.data() + n;
    for (const char* p = buffer.data(); (p = static_cast<const char*>(memchr(p, '\n', end - p)));) {
      ++lines;
      ++p;
    }
    const char* last = buffer.data() + std::max(0, n - 16);
    tail.append(last, static_cast<size_t>(end - last));
    tail.erase(0, tail.size() > 16 ? tail.size() - 16 : 0);
  }
  const bool failed = n < 0;
  gzclose(in);
  if (failed) return std::nullopt;
  // pg_dump ends the data with COPY's end marker, a line "\." (a row never
  // is: COPY doubles backslashes), and blank lines after it.
  const size_t marker = tail.rfind("\\.\n");
  if (marker == std::string::npos || (marker > 0 && tail[marker - 1] != '\n')) return lines;
  return lines - static_cast<uint64_t>(std::count(tail.begin() + static_cast<ptrdiff_t>(marker), tail.end(), '\n'));
}

}  // namespace pgrescue
