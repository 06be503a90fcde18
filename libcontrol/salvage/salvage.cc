#include "libcontrol/salvage/salvage.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "libcontrol/catalogs/check_report.h"
#include "libcontrol/cluster/control_trust.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/salvage/databases.h"
#include "libcontrol/salvage/private_server.h"
#include "libcontrol/salvage/process.h"
#include "libcontrol/salvage/reload.h"
#include "libcontrol/salvage/protective_copy.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

bool MissingOrEmpty(const std::string& path) {
  std::error_code ec;
  return !fs::exists(path, ec) || (fs::is_directory(path, ec) && fs::is_empty(path, ec));
}

class Salvage {
 public:
  explicit Salvage(const SalvageOptions& o) : o_(o) {}

  Result<SalvageReport> Run() {
    if (auto s = Refuse(); !s) return s.error();
    if (auto s = CheckPages(); !s) return s.error();
    if (auto s = Prepare(); !s) return s.error();
    auto server = PrivateServer::Start({r_.server, r_.worked_on, o_.out_dir, "server", superuser_,
                                        r_.ignore_system_indexes});
    if (!server) return server.error();
    Say("private server started on " + r_.worked_on + " (socket " + server->socket_dir() + ")");
    if (auto s = Dump(*server); !s) return s.error();
    if (auto s = server->Stop(); !s) return s.error();
    if (!o_.reload_dir.empty() && r_.pg_dump) {
      Say("reloading into " + o_.reload_dir);
      auto reload = Reload({r_.server, *r_.pg_dump, shape_, o_.reload_dir, o_.out_dir, steps_}, r_);
      if (!reload) return reload.error();
      r_.reload = std::move(*reload);
    } else if (!o_.reload_dir.empty()) {
      r_.warnings.push_back("no reload: without pg_dump there is no schema to restore the rows into");
    }
    return r_;
  }

 private:
  void Say(const std::string& line) const {
    if (o_.progress) o_.progress(line);
  }

  Status Refuse() {
    auto dir = ScanDataDir(o_.data_dir, {});
    if (!dir) return dir.error();
    dir_ = std::move(*dir);
    if (!dir_.pg_version) return MakeError(ErrorCode::kNotFound, "no PG_VERSION: not a data directory", o_.data_dir);
    if (dir_.live.in_use()) {
      std::string what;
      for (const auto& l : dir_.live.Describe()) what += "\n  " + l;
      return MakeError(ErrorCode::kInvalidArgument,
                       "the data directory is in use; stop the server and every process using it first:" + what,
                       o_.data_dir);
    }
    layout_ = FindLayoutByMajor(*dir_.pg_version);
    if (layout_ == nullptr) {
      return MakeError(ErrorCode::kUnknownVersion, "PG_VERSION says " + *dir_.pg_version + ", a version pgrescue does not know",
                       o_.data_dir);
    }
    auto server = FindServer(*dir_.pg_version, o_.bindir);
    if (!server) return server.error();
    r_.server = *server;
    if (auto s = CheckCopyable(o_.data_dir, o_.in_place, {o_.out_dir, o_.reload_dir}); !s) return s;
    for (const auto& d : {o_.out_dir, o_.reload_dir}) {
      if (!d.empty() && !MissingOrEmpty(d)) {
        return MakeError(ErrorCode::kInvalidArgument, "exists and is not empty; give a new or empty directory", d);
      }
    }
    // Before 12 a standby's recovery.conf would make the server stream from
    // its primary; on a copy it is moved aside, in place it cannot be.
    if (o_.in_place && dir_.recovery_conf && MajorNumber(*dir_.pg_version) < 1200) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "has recovery.conf: started in place, the server would recover from its primary or archive "
                       "and write; salvage a copy (leave out --in-place)",
                       o_.data_dir);
    }
    auto dump = FindDump(*dir_.pg_version, o_.bindir);
    r_.pg_dump = dump.found;
    r_.pg_dump_missing = dump.missing;
    r_.data_dir = o_.data_dir;
    r_.in_place = o_.in_place;
    r_.zero_damaged_pages = o_.zero_damaged_pages;
    return {};
  }

  Status CheckPages() {
    Say("checking every page");
    const auto trust = JudgeControl(dir_, nullptr);
    auto setup = SetUpCheck(dir_, trust, {}, &scan_);
    if (!setup) return setup.error();
    scan_.jobs = std::max(1u, o_.jobs);
    auto report = ScanPageLsns(scan_);
    if (!report) return report.error();
    damage_ = DamageByRelation(*report, setup->names);
    r_.ignore_system_indexes = !damage_.catalog_index.empty();
    r_.ignore_system_indexes_why = damage_.catalog_index;
    auto su = BootstrapSuperuser(o_.data_dir, *layout_, scan_.block_size);
    if (!su) return MakeError(ErrorCode::kNotFound, "cannot read the superuser's name from pg_authid", o_.data_dir);
    superuser_ = *su;
    return {};
  }

  Status Prepare() {
    std::vector<std::string> dirs = {o_.out_dir};
    if (!o_.reload_dir.empty()) dirs.push_back(o_.reload_dir);
    if (auto s = BecomeDataDirOwner(o_.data_dir, dirs); !s) return s;
    if (o_.in_place) {
      r_.worked_on = o_.data_dir;
      return {};
    }
    // The page check may have taken hours: look again before copying.
    if (CheckDirectoryUse(o_.data_dir).in_use()) {
      return MakeError(ErrorCode::kInvalidArgument, "the data directory came into use during the page check; stop "
                       "what uses it and run again", o_.data_dir);
    }
    r_.worked_on = o_.out_dir + "/copy";
    Say("copying the data directory to " + r_.worked_on);
    auto copy = CopyDataDirectory(o_.data_dir, r_.worked_on, o_.out_dir + "/tablespaces", o_.out_dir + "/copy.log");
    if (!copy) return copy.error();
    r_.copy = *copy;
    std::error_code ec;
    if (dir_.recovery_conf) {
      fs::rename(r_.worked_on + "/recovery.conf", r_.worked_on + "/recovery.conf.pgrescue-salvage", ec);
      r_.warnings.push_back("the copy's recovery.conf was moved aside, so that its server does not follow a primary");
    }
    return {};
  }

  Status Shape(Connection& c) {
    auto rows = c.Query(
        "SELECT current_setting('server_encoding'), datcollate, datctype, current_setting('data_checksums'), "
        "current_setting('wal_segment_size') FROM pg_database WHERE datname = 'template1'");
    if (!rows) return rows.error();
    if (rows->empty()) return MakeError(ErrorCode::kNotFound, "template1 is missing");
    const auto& row = rows->front();
    shape_ = {superuser_, row[0].value_or(""), row[1].value_or(""), row[2].value_or(""), row[3] == "on", ""};
    if (MajorNumber(r_.server.major) >= 1100) shape_.wal_segment_mb = std::to_string(std::stoul(row[4].value_or("16")) * (row[4]->ends_with("GB") ? 1024 : 1));
    return {};
  }

  Status Dump(const PrivateServer& server);

  const SalvageOptions& o_;
  SalvageReport r_;
  DataDir dir_;
  const ControlLayout* layout_ = nullptr;
  PageScanOptions scan_;
  PageDamage damage_;
  std::string superuser_;
  ClusterShape shape_;
  std::vector<RestoreStep> steps_;
};


Status Salvage::Dump(const PrivateServer& server) {
  auto c = server.Connect("postgres");
  if (!c) c = server.Connect("template1");
  if (!c) return c.error();
  if (auto s = Shape(*c); !s) return s;
  auto size = c->Value("SHOW block_size");
  if (!size) return size.error();
  DatabaseWork w{&server, r_.pg_dump, MajorNumber(r_.server.major), o_.out_dir, std::max(1u, o_.jobs),
                 o_.zero_damaged_pages, !o_.in_place, &damage_, r_.worked_on, static_cast<uint32_t>(std::stoul(*size)),
                 scan_.blocks_per_segment, o_.progress};
  auto databases = ListDatabases(w, *c, &r_.warnings);
  if (!databases) return databases.error();
  if (r_.pg_dump) {
    r_.globals = o_.out_dir + "/globals.sql";
    Say("dumping roles");
  }
  DumpDatabases(w, r_.globals, &*databases, &r_.warnings);
  std::error_code ec;
  if (r_.pg_dump && fs::exists(r_.globals, ec)) steps_.push_back({"psql", {"-X", "-d", "postgres", "-f", r_.globals}});
  for (auto& db : *databases) {
    CopyUnreadTables(w, &db, &r_.zeroed);
    for (auto& step : RestoreSteps(w, db.outcome)) steps_.push_back(std::move(step));
    r_.databases.push_back(std::move(db.outcome));
  }
  // Printed with pg_dump's directory: an older pg_restore on PATH cannot read its dump.
  for (const auto& step : steps_) {
    std::vector<std::string> argv = {r_.pg_dump ? r_.pg_dump->bindir + "/" + step.program : step.program};
    argv.insert(argv.end(), step.args.begin(), step.args.end());
    r_.restore.push_back(ShellCommand(argv));
  }
  return {};
}

}  // namespace

Result<SalvageReport> RunSalvage(const SalvageOptions& options) { return Salvage(options).Run(); }

}  // namespace pgrescue
