#include "libcontrol/salvage/reload.h"

#include <fmt/format.h>

#include "libcontrol/salvage/private_server.h"
#include "libcontrol/salvage/process.h"

namespace pgrescue {
namespace {

Status InitDb(const ReloadRequest& r) {
  const ClusterShape& s = r.shape;
  std::vector<std::string> argv = {r.server.bindir + "/initdb", "-D", r.data_dir, "-U", s.superuser, "-E", s.encoding,
                                   "--lc-collate=" + s.collate, "--lc-ctype=" + s.ctype,
                                   MajorNumber(r.server.major) >= 1000 ? "--no-sync" : "--nosync"};
  if (s.checksums) argv.push_back("--data-checksums");
  else if (MajorNumber(r.server.major) >= 1800) argv.push_back("--no-data-checksums");
  if (!s.wal_segment_mb.empty()) argv.push_back("--wal-segsize=" + s.wal_segment_mb);
  auto run = RunProgram(argv, r.work_dir + "/reload.initdb.log");
  if (!run) return run.error();
  if (!run->ok()) return MakeError(ErrorCode::kIo, "initdb failed: " + run->output, r.data_dir);
  return {};
}

// amcheck's verify_heapam on every table and bt_index_check on every btree
// index of `database`; what it found, in words.
std::string Amcheck(Connection& c) {
  if (auto s = c.Execute("CREATE EXTENSION IF NOT EXISTS amcheck"); !s) return "not available: " + s.error().message;
  auto heap = c.Value("SELECT count(*) FROM pg_class c, LATERAL verify_heapam(c.oid) v WHERE c.relkind = 'r'");
  auto btree = c.Value(
      "SELECT count(bt_index_check(c.oid)) FROM pg_class c JOIN pg_am a ON a.oid = c.relam "
      "WHERE c.relkind = 'i' AND a.amname = 'btree' AND c.relpersistence <> 't'");
  (void)c.Execute("DROP EXTENSION amcheck");
  if (!heap) return "verify_heapam failed: " + heap.error().message;
  if (!btree) return "bt_index_check failed: " + btree.error().message;
  return fmt::format("{} heap problems, {} btree indexes checked", *heap, *btree);
}

}  // namespace

Result<ReloadOutcome> Reload(const ReloadRequest& r, const SalvageReport& report) {
  ReloadOutcome out;
  out.data_dir = r.data_dir;
  if (auto s = InitDb(r); !s) return s.error();
  auto server = PrivateServer::Start({r.server, r.data_dir, r.work_dir, "reload", r.shape.superuser, false});
  if (!server) return server.error();
  for (const auto& step : r.steps) {
    std::vector<std::string> argv = {r.client.bindir + "/" + step.program};
    for (auto& a : server->ClientArgs()) argv.push_back(a);
    argv.insert(argv.end(), step.args.begin(), step.args.end());
    auto run = RunProgram(argv, r.work_dir + "/reload.restore.log");
    if (!run) return run.error();
    if (!run->ok()) {
      out.warnings.push_back(fmt::format("{} exited {} (see {}/reload.restore.log)", ShellCommand(argv), run->status,
                                         r.work_dir));
    }
  }
  for (const auto& d : report.databases) {
    auto c = server->Connect(d.name);
    if (!c) {
      out.mismatches.push_back(fmt::format("database {}: {}", d.name, c.error().message));
      continue;
    }
    for (const auto& t : d.tables) {
      auto n = c->Value(fmt::format("SELECT count(*) FROM ONLY {}.{}", Connection::QuoteIdent(t.schema),
                                    Connection::QuoteIdent(t.table)));
      ++out.tables_checked;
      if (!n) out.mismatches.push_back(fmt::format("{}.{}: {}", d.name, t.name(), n.error().message));
      else if (std::stoull(*n) != t.rows_saved) {
        out.mismatches.push_back(fmt::format("{}.{}: {} rows, the report says {}", d.name, t.name(), *n, t.rows_saved));
      }
    }
    if (MajorNumber(r.server.major) >= 1400) {
      out.amcheck += (out.amcheck.empty() ? "" : "; ") + d.name + ": " + Amcheck(*c);
    }
  }
  if (out.amcheck.empty()) out.amcheck = "not run: amcheck's verify_heapam needs 14 or later";
  if (auto s = server->Stop(); !s) return s.error();
  return out;
}

}  // namespace pgrescue
