#include "libcontrol/catalogs/check_report.h"

#include <map>
#include <utility>

#include <fmt/format.h>

namespace pgrescue {

CheckSetup SetUpCheck(const DataDir& dir, const ControlTrust& trust, PageScanOptions* options) {
  *options = PageScanOptionsFor(dir, trust.trusted);
  CheckSetup s;
  s.data_dir = dir.root;
  s.block_size = options->block_size;
  s.checksums = options->checksums;
  if (trust.trusted != nullptr) {
    s.checksums_why = fmt::format("pg_control says data checksum version {}",
                                  trust.trusted->value(Field::kDataChecksumVersion));
  } else {
    s.checksums_why = "pg_control cannot be trusted (" + trust.why + "), so checksums are not checked";
    s.warnings.push_back(fmt::format("pg_control cannot be trusted: {}; only page headers are checked, with the "
                                     "block size {}",
                                     trust.why, options->block_size));
  }
  const ControlLayout* layout = trust.trusted != nullptr ? &trust.trusted->layout()
                                : dir.pg_version ? FindLayoutByMajor(*dir.pg_version) : nullptr;
  if (layout != nullptr) {
    s.names = NameRelations(dir.root, *layout, options->block_size);
  } else {
    s.names.problems.push_back("neither pg_control nor PG_VERSION names the version: relations are not named");
  }
  if (dir.live.in_use()) {
    std::string list;
    for (const auto& u : dir.live.Describe()) list += (list.empty() ? "" : "; ") + u;
    s.warnings.push_back(fmt::format("the data directory is in use ({}): blocks written during the check may "
                                     "read as damaged",
                                     list));
  }
  return s;
}

namespace {

// "postgres.public.t (table)", "postgres.pg_toast.pg_toast_16384 (TOAST table of postgres.public.t)".
std::string Describe(const CatalogName& n) {
  return fmt::format("{} ({}{})", n.name, n.kind, n.parent.empty() ? "" : " of " + n.parent);
}

}  // namespace

std::vector<RelationSummary> SummarizeRelations(const PageScanReport& report, const RelationNames& names) {
  std::vector<RelationSummary> out;
  std::map<std::pair<std::string, std::string>, size_t> index;
  for (const ScannedFile& s : report.scanned) {
    const auto key = std::make_pair(s.file.relation, s.file.fork);
    auto [it, added] = index.emplace(key, out.size());
    if (added) out.push_back({s.file.relation, s.file.fork, names.Find(s.file.relation)});
    RelationSummary& r = out[it->second];
    ++r.files;
    r.blocks += s.blocks;
    r.damaged += s.damaged;
  }
  return out;
}

std::string CheckReportText(const PageScanReport& report, const CheckSetup& setup) {
  std::string out;
  for (const auto& w : setup.warnings) out += "warning: " + w + "\n";
  for (const auto& p : setup.names.problems) out += "warning: " + p + "; its relations are shown by file\n";
  for (const DamagedBlock& d : report.damaged) {
    const RelationFile& f = report.scanned[d.file].file;
    const CatalogName* name = setup.names.Find(f.relation);
    out += fmt::format("{} block {}{}: {}\n", f.rel, d.block, name ? " of " + name->name : "", d.message);
  }
  for (const FileFinding& f : report.structural) out += f.message + "\n";
  bool header = false;
  for (const RelationSummary& r : SummarizeRelations(report, setup.names)) {
    if (r.damaged == 0) continue;
    if (!header) out += "\nRelations with damaged blocks:\n";
    header = true;
    out += fmt::format("  {}{} ({} fork): {} of {} blocks damaged\n", r.name ? Describe(*r.name) + ", " : "",
                       r.relation, r.fork, r.damaged, r.blocks);
  }
  if (!out.empty()) out += "\n";
  out += fmt::format("Files checked:        {}\n", report.files);
  out += fmt::format("Blocks checked:       {}\n", report.pages);
  out += fmt::format("Zero blocks:          {}\n", report.zero_pages);
  out += fmt::format("Damaged blocks:       {}\n", report.damaged.size());
  out += fmt::format("Structural problems:  {}\n", report.structural.size());
  const TupleEvidence& t = report.tuples;
  out += fmt::format("Heap tuples:          {} (inserts committed {}, aborted {}, frozen {}, not hinted {})\n",
                     t.tuples, t.xmin_committed, t.xmin_aborted, t.xmin_frozen, t.xmin_unhinted);
  if (t.newest_xid) out += fmt::format("Newest XID in a tuple: {} ({})\n", *t.newest_xid, t.newest_xid_where);
  if (t.newest_multixact) {
    out += fmt::format("Newest MultiXactId in a tuple: {} ({})\n", *t.newest_multixact, t.newest_multixact_where);
  }
  out += fmt::format("Block size:           {}\n", setup.block_size);
  out += fmt::format("Data checksums:       {} ({})\n", setup.checksums ? "verified" : "not verified",
                     setup.checksums_why);
  return out;
}

nlohmann::ordered_json CheckReportJson(const PageScanReport& report, const CheckSetup& setup) {
  nlohmann::ordered_json doc;
  doc["data_directory"] = setup.data_dir;
  doc["block_size"] = setup.block_size;
  doc["checksums"] = setup.checksums;
  doc["checksums_why"] = setup.checksums_why;
  doc["warnings"] = setup.warnings;
  doc["files"] = report.files;
  doc["blocks"] = report.pages;
  doc["zero_blocks"] = report.zero_pages;
  doc["damaged_blocks"] = report.damaged.size();
  doc["bytes"] = report.bytes;
  auto name_of = [&](const std::string& relation) {
    const CatalogName* n = setup.names.Find(relation);
    return n ? nlohmann::ordered_json(n->name) : nlohmann::ordered_json(nullptr);
  };
  const TupleEvidence& t = report.tuples;
  doc["tuples"] = {
      {"tuples", t.tuples},
      {"xmin_committed", t.xmin_committed},
      {"xmin_aborted", t.xmin_aborted},
      {"xmin_frozen", t.xmin_frozen},
      {"xmin_unhinted", t.xmin_unhinted},
      {"newest_xid", t.newest_xid ? nlohmann::ordered_json(*t.newest_xid) : nlohmann::ordered_json(nullptr)},
      {"newest_xid_where", t.newest_xid_where},
      {"newest_multixact",
       t.newest_multixact ? nlohmann::ordered_json(*t.newest_multixact) : nlohmann::ordered_json(nullptr)},
      {"newest_multixact_where", t.newest_multixact_where}};
  doc["naming_problems"] = setup.names.problems;
  auto& damaged = doc["damaged"] = nlohmann::ordered_json::array();
  for (const DamagedBlock& d : report.damaged) {
    const RelationFile& f = report.scanned[d.file].file;
    nlohmann::ordered_json j{{"file", f.rel},       {"relation", f.relation},          {"name", name_of(f.relation)},
                             {"fork", f.fork},      {"segment", f.segment},            {"block", d.block},
                             {"problem", PageProblemName(d.problem)}, {"message", d.message}};
    j["checksum_stored"] = d.checksum_stored ? nlohmann::ordered_json(*d.checksum_stored) : nullptr;
    j["checksum_calculated"] = d.checksum_computed ? nlohmann::ordered_json(*d.checksum_computed) : nullptr;
    damaged.push_back(std::move(j));
  }
  auto& structural = doc["structural"] = nlohmann::ordered_json::array();
  for (const FileFinding& f : report.structural) {
    structural.push_back({{"file", f.file}, {"problem", FileProblemName(f.problem)}, {"message", f.message}});
  }
  auto& relations = doc["relations"] = nlohmann::ordered_json::array();
  for (const RelationSummary& r : SummarizeRelations(report, setup.names)) {
    relations.push_back({{"relation", r.relation},
                         {"name", r.name ? nlohmann::ordered_json(r.name->name) : nlohmann::ordered_json(nullptr)},
                         {"kind", r.name ? nlohmann::ordered_json(r.name->kind) : nlohmann::ordered_json(nullptr)},
                         {"parent", r.name && !r.name->parent.empty() ? nlohmann::ordered_json(r.name->parent)
                                                                      : nlohmann::ordered_json(nullptr)},
                         {"fork", r.fork}, {"files", r.files}, {"blocks", r.blocks}, {"damaged", r.damaged}});
  }
  return doc;
}

}  // namespace pgrescue
