#include "libcontrol/salvage/salvage.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "libcontrol/catalogs/check_report.h"
#include "libcontrol/cluster/control_trust.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/salvage/dump.h"
#include "libcontrol/salvage/private_server.h"
#include "libcontrol/salvage/process.h"
#include "libcontrol/salvage/reload.h"
#include "libcontrol/salvage/salvage_tables.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

bool MissingOrEmpty(const std::string& path) {
  std::error_code ec;
  return !fs::exists(path, ec) || (fs::is_directory(path, ec) && fs::is_empty(path, ec));
}

// A database's name as a file name.
std::string FileName(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '_';
  return out;
}

// CREATE DATABASE as the original's: encoding, collation, owner.
std::string CreateDatabase(Connection& c, const std::string& name) {
  auto rows = c.Query(
      "SELECT pg_encoding_to_char(encoding), datcollate, datctype, pg_get_userbyid(datdba) FROM pg_database "
      "WHERE datname = current_database()");
  if (!rows || rows->empty()) return {};
  const auto& r = rows->front();
  return fmt::format("CREATE DATABASE {} WITH TEMPLATE = template0 ENCODING = {} LC_COLLATE = {} LC_CTYPE = {} OWNER = {}",
                     Connection::QuoteIdent(name), Connection::QuoteLiteral(r[0].value_or("")),
                     Connection::QuoteLiteral(r[1].value_or("")), Connection::QuoteLiteral(r[2].value_or("")),
                     Connection::QuoteIdent(r[3].value_or("")));
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
    for (const auto& d : {o_.out_dir, o_.reload_dir}) {
      if (!d.empty() && !MissingOrEmpty(d)) {
        return MakeError(ErrorCode::kInvalidArgument, "exists and is not empty; give a new or empty directory", d);
      }
    }
    if (!o_.reload_dir.empty() && fs::weakly_canonical(o_.reload_dir) == fs::weakly_canonical(o_.data_dir)) {
      return MakeError(ErrorCode::kInvalidArgument, "--reload must name a new directory, not the data directory", o_.reload_dir);
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
    r_.worked_on = o_.out_dir + "/copy";
    Say("copying the data directory to " + r_.worked_on);
    auto copy = CopyDataDirectory(o_.data_dir, r_.worked_on, o_.out_dir + "/tablespaces", o_.out_dir + "/copy.log");
    if (!copy) return copy.error();
    r_.copy = *copy;
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
  void DumpOne(const PrivateServer& server, Connection& c, DatabaseOutcome* d, std::vector<TableToCopy> tables,
               uint32_t block_size);
  void AddRestoreSteps(const DatabaseOutcome& d);

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
  auto dbs = c->Query("SELECT oid, datname FROM pg_database WHERE datallowconn AND datname <> 'template0' ORDER BY oid");
  if (!size) return size.error();
  if (!dbs) return dbs.error();
  if (r_.pg_dump) {
    r_.globals = o_.out_dir + "/globals.sql";
    Say("dumping roles and tablespaces");
    if (auto s = DumpGlobals(server, *r_.pg_dump, r_.globals, o_.out_dir + "/pg_dump.log"); !s) {
      r_.warnings.push_back(s.error().ToString());
    } else {
      steps_.push_back({"psql", {"-X", "-d", "postgres", "-f", r_.globals}});
    }
  }
  for (const auto& row : *dbs) {
    DatabaseOutcome d;
    d.oid = static_cast<uint32_t>(std::stoul(row[0].value_or("0")));
    d.name = row[1].value_or("");
    auto dc = server.Connect(d.name);
    auto tables = dc ? ListTables(*dc, MajorNumber(r_.server.major), static_cast<uint32_t>(std::stoul(*size)))
                     : Result<std::vector<TableToCopy>>(dc.error());
    if (!tables) d.problems.push_back("its tables cannot be listed: " + tables.error().message);
    else DumpOne(server, *dc, &d, std::move(*tables), static_cast<uint32_t>(std::stoul(*size)));
    if (dc) d.create = CreateDatabase(*dc, d.name);
    AddRestoreSteps(d);
    r_.databases.push_back(std::move(d));
  }
  for (const auto& step : steps_) {
    std::vector<std::string> argv = {step.program};
    argv.insert(argv.end(), step.args.begin(), step.args.end());
    r_.restore.push_back(ShellCommand(argv));
  }
  return {};
}

void Salvage::DumpOne(const PrivateServer& server, Connection& c, DatabaseOutcome* d, std::vector<TableToCopy> tables,
                      uint32_t block_size) {
  using Key = std::pair<std::string, std::string>;
  std::vector<Key> names;
  std::set<Key> by_block;
  for (auto& t : tables) {
    names.emplace_back(t.schema, t.table);
    if (auto it = damage_.blocks.find(t.file); it != damage_.blocks.end()) t.known_damaged = it->second;
    if (!t.known_damaged.empty() || damage_.blocks.contains(t.toast_file)) by_block.insert(names.back());
  }
  std::map<Key, uint64_t> dumped;
  if (r_.pg_dump) {
    Say("dumping database " + d->name);
    DumpRequest req{&server, *r_.pg_dump, d->name, o_.out_dir + "/dump/" + FileName(d->name), o_.out_dir + "/pg_dump.log",
                    std::max(1u, o_.jobs), names, by_block};
    std::error_code ec;
    fs::create_directories(o_.out_dir + "/dump", ec);
    auto result = DumpDatabase(req);
    if (result) {
      d->dump = req.dir;
      by_block = result->excluded;
      dumped = std::move(result->rows);
    } else {
      d->problems.push_back(result.error().ToString() + "; its tables are copied by block, without their schema");
      by_block.insert(names.begin(), names.end());
    }
  } else {
    by_block.insert(names.begin(), names.end());
  }
  std::ofstream sink;
  if (!by_block.empty()) {
    std::error_code ec;
    fs::create_directories(o_.out_dir + "/salvaged", ec);
    d->salvaged = o_.out_dir + "/salvaged/" + FileName(d->name) + ".sql";
    sink.open(*d->salvaged, std::ios::binary);
    sink << "-- pgrescue-salvage: the readable rows of "
         << (r_.pg_dump ? "the tables pg_dump could not read" : "every table (no pg_dump: create the tables first)")
         << ", as COPY data for psql -f\n"
         << "SET client_encoding = " << Connection::QuoteLiteral(shape_.encoding) << ";\n\n";
    if (o_.zero_damaged_pages) (void)c.Execute("SET zero_damaged_pages = on");
  }
  TableCopyOptions copy{MajorNumber(r_.server.major), block_size,
                        [this](const TableToCopy& t, uint64_t block) {
                          return RowsOnBlock(o_.data_dir, t.file, block, scan_.block_size, scan_.blocks_per_segment);
                        },
                        &r_.zeroed, nullptr};
  for (const auto& t : tables) {
    TableOutcome out{t.schema, t.table, t.oid, t.file, "pg_dump", 0, {}, {}};
    if (by_block.contains({t.schema, t.table})) {
      Say(fmt::format("copying {}.{} by block ({} blocks)", t.schema, t.table, t.blocks));
      out.how = "by block";
      CopyTableByBlocks(c, t, copy, sink, &out);
    } else {
      out.rows_saved = dumped[{t.schema, t.table}];
    }
    d->tables.push_back(std::move(out));
  }
  if (sink.is_open()) {
    sink.close();
    if (!sink) d->problems.push_back("cannot write " + *d->salvaged);
  }
}

void Salvage::AddRestoreSteps(const DatabaseOutcome& d) {
  const std::string jobs = fmt::format("--jobs={}", std::max(1u, o_.jobs));
  if (d.dump) {
    // The database is made here, not by pg_restore --create: pg_dump 15
    // writes LOCALE_PROVIDER into CREATE DATABASE even for older servers,
    // which those refuse.
    if (d.name != "postgres" && d.name != "template1" && !d.create.empty()) {
      steps_.push_back({"psql", {"-X", "-d", "postgres", "-c", d.create}});
    }
    steps_.push_back({"pg_restore", {"--section=pre-data", "--no-tablespaces", "-d", d.name, *d.dump}});
    steps_.push_back({"pg_restore", {"--section=data", jobs, "-d", d.name, *d.dump}});
  }
  if (d.salvaged) steps_.push_back({"psql", {"-X", "-v", "ON_ERROR_STOP=1", "-d", d.name, "-f", *d.salvaged}});
  if (d.dump) steps_.push_back({"pg_restore", {"--section=post-data", jobs, "-d", d.name, *d.dump}});
}

}  // namespace

Result<SalvageReport> RunSalvage(const SalvageOptions& options) { return Salvage(options).Run(); }

}  // namespace pgrescue
