#include "libcontrol/salvage/databases.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "libcontrol/salvage/dump.h"
#include "libcontrol/salvage/table_copy.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

// A database's files are named by its OID first: names that differ only in
// characters a file name cannot keep must not share one.
std::string FileName(const DatabaseOutcome& d) {
  std::string out = std::to_string(d.oid) + "-";
  for (char c : d.name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '_';
  return out;
}

std::string CreateDatabase(const SqlRow& r) {
  return fmt::format("CREATE DATABASE {} WITH TEMPLATE = template0 ENCODING = {} LC_COLLATE = {} LC_CTYPE = {} OWNER = {}",
                     Connection::QuoteIdent(r[1].value_or("")), Connection::QuoteLiteral(r[3].value_or("")),
                     Connection::QuoteLiteral(r[4].value_or("")), Connection::QuoteLiteral(r[5].value_or("")),
                     Connection::QuoteIdent(r[6].value_or("")));
}

void ListTablesOf(const DatabaseWork& w, Database* db) {
  auto c = w.server->Connect(db->outcome.name);
  auto tables = c ? ListTables(*c, w.server_major, w.block_size) : Result<std::vector<TableToCopy>>(c.error());
  if (!tables) {
    db->outcome.problems.push_back("its tables cannot be listed: " + tables.error().message);
    return;
  }
  for (auto& t : *tables) {
    if (auto it = w.damage->blocks.find(t.file); it != w.damage->blocks.end()) t.known_damaged = it->second;
    if (!t.known_damaged.empty() || w.damage->blocks.contains(t.toast_file)) db->by_block.emplace(t.schema, t.table);
  }
  db->tables = std::move(*tables);
}

}  // namespace

std::string DatabaseArg(const std::string& name) {
  const bool plain = !name.empty() && name.front() != '-' &&
                     std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
  if (plain) return name;
  std::string out = "dbname='";
  for (char c : name) out += c == '\'' || c == '\\' ? std::string("\\") + c : std::string(1, c);
  return out + "'";
}

Result<std::vector<Database>> ListDatabases(const DatabaseWork& w, Connection& c, std::vector<std::string>* warnings) {
  auto rows = c.Query(
      "SELECT d.oid, d.datname, d.datallowconn, pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, "
      "pg_get_userbyid(d.datdba) FROM pg_database d WHERE d.datname <> 'template0' ORDER BY d.oid");
  if (!rows) return rows.error();
  std::vector<Database> out;
  for (const auto& r : *rows) {
    Database db;
    db.outcome.oid = static_cast<uint32_t>(std::stoul(r[0].value_or("0")));
    db.outcome.name = r[1].value_or("");
    db.outcome.create = CreateDatabase(r);
    db.encoding = r[3].value_or("");
    if (r[2] != "t") {
      const std::string open = "ALTER DATABASE " + Connection::QuoteIdent(db.outcome.name) + " ALLOW_CONNECTIONS true";
      if (!w.may_allow_connections || w.server_major < 905 || !c.Execute(open).ok()) {
        db.outcome.problems.push_back("it does not allow connections (datallowconn is false): not salvaged");
        out.push_back(std::move(db));
        continue;
      }
      warnings->push_back("database " + db.outcome.name + " does not allow connections; it was opened on the copy");
    }
    ListTablesOf(w, &db);
    out.push_back(std::move(db));
  }
  return out;
}

void DumpDatabases(const DatabaseWork& w, const std::string& globals, std::vector<Database>* databases,
                   std::vector<std::string>* warnings) {
  if (!w.pg_dump) {
    for (auto& db : *databases) {
      for (const auto& t : db.tables) db.by_block.emplace(t.schema, t.table);
    }
    return;
  }
  std::error_code ec;
  fs::create_directories(w.out_dir + "/dump", ec);
  std::vector<std::optional<Result<DumpResult>>> results(databases->size());
  std::vector<std::thread> threads;
  Status globals_status;
  if (!globals.empty()) {
    threads.emplace_back([&] { globals_status = DumpGlobals(*w.server, *w.pg_dump, globals, w.out_dir + "/pg_dumpall.log"); });
  }
  for (size_t i = 0; i < databases->size(); ++i) {
    Database& db = (*databases)[i];
    if (!db.outcome.problems.empty()) continue;
    DumpRequest req{w.server, *w.pg_dump, db.outcome.name, w.out_dir + "/dump/" + FileName(db.outcome),
                    fmt::format("{}/pg_dump.{}.log", w.out_dir, db.outcome.oid), w.jobs, {}, db.by_block};
    for (const auto& t : db.tables) req.tables.emplace(TableKey{t.schema, t.table}, t.oid);
    if (w.say) w.say("dumping database " + db.outcome.name);
    threads.emplace_back([&results, i, req] { results[i] = DumpDatabase(req); });
  }
  for (auto& t : threads) t.join();
  if (!globals_status) warnings->push_back(globals_status.error().ToString());
  for (size_t i = 0; i < databases->size(); ++i) {
    Database& db = (*databases)[i];
    if (!results[i]) continue;
    if (*results[i]) {
      db.outcome.dump = w.out_dir + "/dump/" + FileName(db.outcome);
      db.by_block = (*results[i])->excluded;
      db.dumped_rows = std::move((*results[i])->rows);
      if (!(*results[i])->schema_only_because.empty()) {
        db.outcome.problems.push_back("pg_dump could not dump its data and blamed no table (" +
                                      (*results[i])->schema_only_because +
                                      "); its schema alone was dumped, and every table copied by block");
      }
    } else {
      db.outcome.problems.push_back(results[i]->error().ToString() + "; its tables are copied by block, without their schema");
      for (const auto& t : db.tables) db.by_block.emplace(t.schema, t.table);
    }
  }
}

void CopyUnreadTables(const DatabaseWork& w, Database* db, std::vector<std::string>* zeroed) {
  DatabaseOutcome& d = db->outcome;
  std::ofstream sink;
  std::optional<Connection> c;
  if (!db->by_block.empty()) {
    auto opened = w.server->Connect(d.name);
    if (!opened) {
      d.problems.push_back("cannot connect to copy its unreadable tables: " + opened.error().message);
    } else {
      c = std::move(*opened);
      std::error_code ec;
      fs::create_directories(w.out_dir + "/salvaged", ec);
      d.salvaged = w.out_dir + "/salvaged/" + FileName(d) + ".sql";
      sink.open(*d.salvaged, std::ios::binary);
      sink << "-- pgrescue-salvage: the readable rows of "
           << (w.pg_dump ? "the tables pg_dump could not read" : "every table (no pg_dump: create the tables first)")
           << ", as COPY data for psql -f\n"
           << "SET client_encoding = " << Connection::QuoteLiteral(db->encoding) << ";\n\n";
      if (w.zero_damaged_pages) (void)c->Execute("SET zero_damaged_pages = on");
    }
  }
  TableCopyOptions copy{w.server_major, w.block_size,
                        [&w](const TableToCopy& t, uint64_t block) {
                          return RowsOnBlock(w.worked_on, t.file, block, w.block_size, w.blocks_per_segment);
                        },
                        zeroed, nullptr};
  for (const auto& t : db->tables) {
    TableOutcome out{t.schema, t.table, t.oid, t.file, "pg_dump", 0, {}, {}};
    const TableKey key{t.schema, t.table};
    if (db->by_block.contains(key) && c) {
      if (w.say) w.say(fmt::format("copying {}.{} by block ({} blocks)", t.schema, t.table, t.blocks));
      out.how = "by block";
      CopyTableByBlocks(*c, t, copy, sink, &out);
    } else if (db->by_block.contains(key)) {
      out.how = "not saved";
    } else if (auto it = db->dumped_rows.find(key); it != db->dumped_rows.end()) {
      out.rows_saved = it->second;
    } else {
      out.how = "not in the dump";  // pg_dump leaves out an extension's tables
    }
    d.tables.push_back(std::move(out));
  }
  if (sink.is_open()) {
    sink.close();
    if (!sink) d.problems.push_back("cannot write " + *d.salvaged);
  }
}

std::vector<RestoreStep> RestoreSteps(const DatabaseWork& w, const DatabaseOutcome& d) {
  std::vector<RestoreStep> steps;
  const std::string jobs = fmt::format("--jobs={}", w.jobs);
  const std::string db = DatabaseArg(d.name);
  if (d.dump) {
    // The database is made here, not by pg_restore --create: pg_dump 15
    // writes LOCALE_PROVIDER into CREATE DATABASE even for older servers,
    // which those refuse.
    if (d.name != "postgres" && d.name != "template1") steps.push_back({"psql", {"-X", "-d", "postgres", "-c", d.create}});
    // Tablespaces are left out: on this machine their locations are the original's.
    steps.push_back({"pg_restore", {"--section=pre-data", "--no-tablespaces", "-d", db, *d.dump}});
    steps.push_back({"pg_restore", {"--section=data", "--no-tablespaces", jobs, "-d", db, *d.dump}});
  }
  if (d.salvaged) steps.push_back({"psql", {"-X", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", *d.salvaged}});
  if (d.dump) steps.push_back({"pg_restore", {"--section=post-data", "--no-tablespaces", jobs, "-d", db, *d.dump}});
  return steps;
}

}  // namespace pgrescue
