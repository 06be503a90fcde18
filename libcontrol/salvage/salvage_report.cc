#include "libcontrol/salvage/salvage_report.h"

#include <fmt/format.h>

namespace pgrescue {

uint64_t TableOutcome::rows_lost() const {
  uint64_t n = failed_rows.size();
  for (const auto& s : skipped) n += s.rows_lost.value_or(0);
  return n;
}

uint64_t TableOutcome::uncounted_blocks() const {
  uint64_t n = 0;
  for (const auto& s : skipped) n += s.rows_lost ? 0 : 1;
  return n;
}

namespace {

template <typename F>
uint64_t SumTables(const SalvageReport& r, F f) {
  uint64_t n = 0;
  for (const auto& d : r.databases) {
    for (const auto& t : d.tables) n += f(t);
  }
  return n;
}

}  // namespace

uint64_t SalvageReport::rows_saved() const { return SumTables(*this, [](const TableOutcome& t) { return t.rows_saved; }); }
uint64_t SalvageReport::rows_lost() const { return SumTables(*this, [](const TableOutcome& t) { return t.rows_lost(); }); }
uint64_t SalvageReport::blocks_skipped() const {
  return SumTables(*this, [](const TableOutcome& t) { return t.skipped.size(); });
}

bool SalvageReport::LostSomething() const {
  bool problems = false;
  for (const auto& d : databases) problems = problems || !d.problems.empty();
  return problems || blocks_skipped() > 0 || rows_lost() > 0 ||
         SumTables(*this, [](const TableOutcome& t) { return t.failed_rows.size(); }) > 0 ||
         (reload && !reload->mismatches.empty());
}

nlohmann::ordered_json SalvageReportJson(const SalvageReport& r) {
  using J = nlohmann::ordered_json;
  J j;
  j["data_dir"] = r.data_dir;
  j["worked_on"] = r.worked_on;
  j["in_place"] = r.in_place;
  j["copy"] = r.copy ? J{{"method", r.copy->method}, {"bytes", r.copy->bytes}, {"seconds", r.copy->seconds}} : J();
  j["server"] = {{"bindir", r.server.bindir}, {"version", r.server.version}};
  j["pg_dump"] = r.pg_dump ? J{{"bindir", r.pg_dump->bindir}, {"version", r.pg_dump->version}} : J();
  j["pg_dump_missing"] = r.pg_dump ? J() : J(r.pg_dump_missing);
  j["ignore_system_indexes"] = r.ignore_system_indexes;
  j["ignore_system_indexes_why"] = r.ignore_system_indexes ? J(r.ignore_system_indexes_why) : J();
  j["zero_damaged_pages"] = r.zero_damaged_pages;
  j["zeroed"] = r.zeroed;
  j["globals"] = r.globals.empty() ? J() : J(r.globals);
  j["databases"] = J::array();
  for (const auto& d : r.databases) {
    J tables = J::array();
    for (const auto& t : d.tables) {
      J skipped = J::array(), failed = J::array();
      for (const auto& s : t.skipped) {
        skipped.push_back({{"block", s.block}, {"error", s.error}, {"rows_lost", s.rows_lost ? J(*s.rows_lost) : J()}});
      }
      for (const auto& f : t.failed_rows) failed.push_back({{"ctid", f.ctid}, {"error", f.error}});
      tables.push_back({{"name", t.name()}, {"file", t.file}, {"how", t.how}, {"rows_saved", t.rows_saved},
                        {"rows_lost", t.rows_lost()}, {"rows_lost_uncounted_blocks", t.uncounted_blocks()},
                        {"skipped_blocks", skipped}, {"failed_rows", failed}});
    }
    j["databases"].push_back({{"name", d.name}, {"dump", d.dump ? J(*d.dump) : J()},
                              {"salvaged", d.salvaged ? J(*d.salvaged) : J()}, {"problems", d.problems},
                              {"tables", tables}});
  }
  uint64_t tables = 0;
  for (const auto& d : r.databases) tables += d.tables.size();
  j["totals"] = {{"tables", tables}, {"rows_saved", r.rows_saved()}, {"rows_lost", r.rows_lost()},
                 {"blocks_skipped", r.blocks_skipped()}};
  j["restore"] = r.restore;
  j["reload"] = r.reload ? J{{"data_dir", r.reload->data_dir}, {"tables_checked", r.reload->tables_checked},
                              {"mismatches", r.reload->mismatches}, {"warnings", r.reload->warnings},
                              {"amcheck", r.reload->amcheck}}
                         : J();
  j["warnings"] = r.warnings;
  return j;
}

std::string SalvageReportText(const SalvageReport& r) {
  std::string out;
  for (const auto& w : r.warnings) out += "warning: " + w + "\n";
  out += fmt::format("Salvaged {} ({}) with PostgreSQL {} from {}\n", r.data_dir,
                     r.in_place ? "in place" : "working on the copy " + r.worked_on, r.server.version, r.server.bindir);
  if (r.copy) out += fmt::format("Protective copy: {} of {} MB in {:.1f} s\n", r.copy->method, r.copy->bytes >> 20, r.copy->seconds);
  if (r.pg_dump) out += fmt::format("pg_dump {} from {}\n", r.pg_dump->version, r.pg_dump->bindir);
  else out += "No pg_dump: " + r.pg_dump_missing + "\n  Rows only (no schema): restore them into tables you create.\n";
  if (r.ignore_system_indexes) out += "ignore_system_indexes was on: " + r.ignore_system_indexes_why + "\n";
  for (const auto& z : r.zeroed) out += "zeroed: " + z + "\n";
  for (const auto& d : r.databases) {
    out += fmt::format("\nDatabase \"{}\"{}\n", d.name, d.dump ? ": dumped to " + *d.dump : "");
    for (const auto& p : d.problems) out += "  problem: " + p + "\n";
    for (const auto& t : d.tables) {
      const std::string lost = t.uncounted_blocks() ? fmt::format(" (and the rows of {} uncounted blocks)", t.uncounted_blocks()) : "";
      out += fmt::format("  {}: {} rows saved ({}), {} lost{}\n", t.name(), t.rows_saved, t.how, t.rows_lost(), lost);
      for (const auto& s : t.skipped) {
        out += fmt::format("    block {} skipped ({} rows): {}\n", s.block,
                           s.rows_lost ? std::to_string(*s.rows_lost) : "uncounted", s.error);
      }
      for (const auto& f : t.failed_rows) out += fmt::format("    row {} lost: {}\n", f.ctid, f.error);
    }
  }
  out += fmt::format("\nTotal: {} rows saved, {} rows lost, {} blocks skipped\n", r.rows_saved(), r.rows_lost(),
                     r.blocks_skipped());
  if (!r.restore.empty()) {
    out += "\nTo restore into a new cluster (its server running), in this order:\n";
    for (const auto& c : r.restore) out += "  " + c + "\n";
  }
  if (r.reload) {
    out += fmt::format("\nReloaded into {}: {} tables checked, {} mismatches\n", r.reload->data_dir,
                       r.reload->tables_checked, r.reload->mismatches.size());
    for (const auto& m : r.reload->mismatches) out += "  mismatch: " + m + "\n";
    for (const auto& w : r.reload->warnings) out += "  " + w + "\n";
    out += "  amcheck: " + r.reload->amcheck + "\n";
  }
  return out;
}

}  // namespace pgrescue
