#include "libcontrol/catalogs/check_report.h"

#include <map>
#include <memory>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "libcontrol/catalogs/catalog_files.h"
#include "libcontrol/slru/xact_status.h"

namespace pgrescue {
namespace {

// "postgres.public.t" is named by itself, "public.t" and "t".
bool NameMatches(const std::string& name, const std::string& wanted) {
  return name == wanted || name.ends_with("." + wanted);
}

// The names `wanted` picks, with their TOAST tables and indexes (and those
// of the TOAST tables).
Result<std::set<std::string>> PickRelations(const RelationNames& names, const std::vector<std::string>& wanted) {
  std::set<std::string> picked;
  for (const std::string& w : wanted) {
    bool found = false;
    for (const auto& [key, n] : names.by_file) {
      if (n.live && NameMatches(n.name, w)) picked.insert(n.name), found = true;
    }
    if (!found) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("no relation named \"{}\" in the catalogs; give database.schema.relation, "
                                   "schema.relation or relation as the catalogs spell it",
                                   w));
    }
  }
  for (int depth = 0; depth < 2; ++depth) {
    for (const auto& [key, n] : names.by_file) {
      if (n.live && picked.contains(n.parent)) picked.insert(n.name);
    }
  }
  return picked;
}

// Only a cleanly shut down cluster's next XID bounds every XID on its pages.
HeapLimits LimitsFrom(const ControlFile* trusted) {
  HeapLimits limits;
  if (trusted == nullptr || trusted->value(Field::kState) != static_cast<uint64_t>(DbState::kShutdowned)) {
    return limits;
  }
  limits.next_xid = static_cast<uint32_t>(trusted->value(Field::kNextXid));
  if (trusted->layout().Has(Field::kNextXidEpoch)) {
    limits.next_xid_epoch = static_cast<uint32_t>(trusted->value(Field::kNextXidEpoch));
  }
  limits.next_multixact = static_cast<uint32_t>(trusted->value(Field::kNextMulti));
  return limits;
}

}  // namespace

Result<CheckSetup> SetUpCheck(const DataDir& dir, const ControlTrust& trust, const std::vector<std::string>& relations,
                              PageScanOptions* options) {
  *options = PageScanOptionsFor(dir, trust.trusted);
  options->limits = LimitsFrom(trust.trusted);
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
  s.relations = relations;
  const uint64_t state = trust.trusted ? trust.trusted->value(Field::kState) : 0;
  s.catalogs_current = state == static_cast<uint64_t>(DbState::kShutdowned) ||
                       state == static_cast<uint64_t>(DbState::kShutdownedInRecovery);
  if (!s.catalogs_current) {
    s.warnings.push_back(fmt::format("{}, so its catalogs on disk may lag its WAL: the catalogs are not checked against "
                                     "each other or the files (start the server to replay the WAL, stop it cleanly "
                                     "and check again)",
                                     trust.trusted ? "the cluster was not shut down cleanly"
                                                   : "pg_control cannot say whether the cluster was shut down cleanly"));
  }
  if (trust.trusted != nullptr &&
      XactPagesLacking(dir.root, trust.trusted->layout(), options->block_size,
                       static_cast<uint32_t>(trust.trusted->value(Field::kOldestXid)),
                       static_cast<uint32_t>(trust.trusted->value(Field::kNextXid)))) {
    s.xact_lacking = &trust.trusted->layout();
    options->collect_xids = true;
  }
  auto names = std::make_shared<const RelationNames>(s.names);
  options->format_of = [names](const RelationFile& f) { return FormatOf(*names, f); };
  if (!relations.empty()) {
    auto picked = PickRelations(s.names, relations);
    if (!picked) return picked.error();
    options->include = [names, picked = std::move(*picked)](const RelationFile& f) {
      const CatalogName* n = names->Find(f.relation);
      return n != nullptr && picked.contains(n->name);
    };
  }
  return s;
}

std::vector<CatalogFinding> CatalogFindings(const PageScanReport& report, const CheckSetup& setup) {
  if (!setup.relations.empty() || !setup.catalogs_current) return {};
  std::vector<CatalogFinding> out = setup.names.findings;
  for (auto& f : CheckRelationFiles(setup.names, report)) out.push_back(std::move(f));
  return out;
}

XactUnanswered FindXactUnanswered(const PageScanReport& report, const CheckSetup& setup) {
  XactUnanswered out;
  if (setup.xact_lacking == nullptr) return out;
  XactStatusReader xact(setup.data_dir, *setup.xact_lacking, setup.block_size);
  std::set<uint32_t> lost;
  for (const auto& [xid, claims] : report.xids.claims) {
    if ((claims & xid_claim::kNeeded) && !xact.Status(xid)) lost.insert(xid);
  }
  out.xids = lost.size();
  auto is_lost = [&](uint64_t side) { return side < kSettledYes && lost.count(static_cast<uint32_t>(side)); };
  for (const auto& [relation, shapes] : report.shapes) {
    XactUnanswered::Relation r{relation, "", 0};
    for (const auto& [shape, n] : shapes) r.tuples += is_lost(shape.first) || is_lost(shape.second) ? n : 0;
    if (r.tuples == 0) continue;
    if (const CatalogName* name = setup.names.Find(relation)) r.name = name->name;
    out.relations.push_back(std::move(r));
  }
  return out;
}

bool FoundDamage(const PageScanReport& r, const CheckSetup& setup) {
  return !r.damaged.empty() || !r.structural.empty() || !r.tuple_problems.empty() ||
         !CatalogFindings(r, setup).empty() || FindXactUnanswered(r, setup).xids != 0;
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
  std::vector<size_t> of_file;  // scanned file -> summary
  for (const ScannedFile& s : report.scanned) {
    const auto key = std::make_pair(s.file.relation, s.file.fork);
    auto [it, added] = index.emplace(key, out.size());
    if (added) out.push_back({s.file.relation, s.file.fork, names.Find(s.file.relation)});
    of_file.push_back(it->second);
    RelationSummary& r = out[it->second];
    ++r.files;
    r.blocks += s.blocks;
    r.damaged += s.damaged;
  }
  for (const DamagedBlock& d : report.damaged) {
    RelationSummary& r = out[of_file[d.file]];
    if (d.rows) r.rows_on_damaged += *d.rows;
    else if (r.name != nullptr && r.fork == "main" && HasHeapPages(*r.name)) ++r.rows_unknown;
  }
  for (const TupleFinding& t : report.tuple_problems) ++out[of_file[t.file]].tuple_problems;
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
  for (const TupleFinding& t : report.tuple_problems) {
    const RelationFile& f = report.scanned[t.file].file;
    const CatalogName* name = setup.names.Find(f.relation);
    out += fmt::format("{} block {} offset {}{}: {}\n", f.rel, t.block, t.offset, name ? " of " + name->name : "",
                       t.message);
  }
  for (const FileFinding& f : report.structural) {
    const CatalogName* name = setup.names.Find(RelationOfFile(f.file));
    out += f.message + (name ? " (" + Describe(*name) + ")" : "") + "\n";
  }
  const auto catalog = CatalogFindings(report, setup);
  for (const CatalogFinding& c : catalog) {
    out += fmt::format("catalog: {}{}\n", c.name.empty() || c.message.find(c.name) != std::string::npos ? "" : c.name + ": ", c.message);
  }
  bool header = false;
  for (const RelationSummary& r : SummarizeRelations(report, setup.names)) {
    if (r.damaged == 0 && r.tuple_problems == 0) continue;
    if (!header) out += "\nRelations with damage:\n";
    header = true;
    std::string rows;
    if (r.rows_on_damaged > 0 || r.rows_unknown > 0) {
      rows = fmt::format(", {} rows on damaged blocks by their line pointers{}", r.rows_on_damaged,
                         r.rows_unknown ? fmt::format(" (and {} blocks whose rows cannot be counted)", r.rows_unknown) : "");
    }
    out += fmt::format("  {}{} ({} fork): {} of {} blocks damaged{}{}\n", r.name ? Describe(*r.name) + ", " : "",
                       r.relation, r.fork, r.damaged, r.blocks, rows,
                       r.tuple_problems ? fmt::format(", {} tuple problems", r.tuple_problems) : "");
  }
  if (!out.empty()) out += "\n";
  out += fmt::format("Files checked:        {}\n", report.files);
  out += fmt::format("Blocks checked:       {}\n", report.pages);
  out += fmt::format("Zero blocks:          {}\n", report.zero_pages);
  out += fmt::format("Damaged blocks:       {}\n", report.damaged.size());
  out += fmt::format("Structural problems:  {}\n", report.structural.size());
  out += fmt::format("Tuple problems:       {}\n", report.tuple_problems.size());
  out += fmt::format("Catalog problems:     {}{}\n", catalog.size(),
                     !setup.relations.empty()     ? " (not checked: --relation reads only some files)"
                     : !setup.catalogs_current ? " (not checked: not shut down cleanly)"
                                               : "");
  if (setup.xact_lacking != nullptr) {
    const XactUnanswered lost = FindXactUnanswered(report, setup);
    out += fmt::format("Lost commit status:   {} XID(s) that rows need, in {} relation(s){}\n", lost.xids,
                       lost.relations.size(), lost.xids ? " (pgrescue-reset --rebuild-xact -n shows what a rebuild "
                                                          "decides)" : "");
    for (const auto& r : lost.relations) {
      out += fmt::format("  {} ({}): {} tuple(s)\n", r.name.empty() ? "(not named)" : r.name, r.relation, r.tuples);
    }
  }
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
  doc["relations_named"] = setup.names.by_file.size();
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
  if (setup.xact_lacking != nullptr) {
    const XactUnanswered lost = FindXactUnanswered(report, setup);
    auto relations = nlohmann::ordered_json::array();
    for (const auto& r : lost.relations) {
      relations.push_back({{"relation", r.relation}, {"name", r.name.empty() ? nlohmann::ordered_json(nullptr)
                                                                              : nlohmann::ordered_json(r.name)},
                           {"tuples", r.tuples}});
    }
    doc["xact_unanswered"] = {{"xids", lost.xids}, {"relations", relations}};
  } else {
    doc["xact_unanswered"] = nullptr;
  }
  auto& damaged = doc["damaged"] = nlohmann::ordered_json::array();
  for (const DamagedBlock& d : report.damaged) {
    const RelationFile& f = report.scanned[d.file].file;
    nlohmann::ordered_json j{{"file", f.rel},       {"relation", f.relation},          {"name", name_of(f.relation)},
                             {"fork", f.fork},      {"segment", f.segment},            {"block", d.block},
                             {"problem", PageProblemName(d.problem)}, {"message", d.message}};
    j["checksum_stored"] = d.checksum_stored ? nlohmann::ordered_json(*d.checksum_stored) : nullptr;
    j["checksum_calculated"] = d.checksum_computed ? nlohmann::ordered_json(*d.checksum_computed) : nullptr;
    j["rows"] = d.rows ? nlohmann::ordered_json(*d.rows) : nullptr;
    damaged.push_back(std::move(j));
  }
  auto& tuples = doc["tuple_problems"] = nlohmann::ordered_json::array();
  for (const TupleFinding& p : report.tuple_problems) {
    const RelationFile& f = report.scanned[p.file].file;
    tuples.push_back({{"file", f.rel}, {"relation", f.relation}, {"name", name_of(f.relation)}, {"block", p.block},
                      {"offset", p.offset}, {"message", p.message}});
  }
  auto& catalog = doc["catalog_problems"] = nlohmann::ordered_json::array();
  for (const CatalogFinding& c : CatalogFindings(report, setup)) {
    catalog.push_back({{"relation", c.relation.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.relation)},
                       {"name", c.name.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.name)},
                       {"message", c.message}});
  }
  auto& structural = doc["structural"] = nlohmann::ordered_json::array();
  for (const FileFinding& f : report.structural) {
    structural.push_back({{"file", f.file}, {"name", name_of(RelationOfFile(f.file))},
                          {"problem", FileProblemName(f.problem)}, {"message", f.message}});
  }
  auto& relations = doc["relations"] = nlohmann::ordered_json::array();
  for (const RelationSummary& r : SummarizeRelations(report, setup.names)) {
    relations.push_back({{"relation", r.relation},
                         {"name", r.name ? nlohmann::ordered_json(r.name->name) : nlohmann::ordered_json(nullptr)},
                         {"kind", r.name ? nlohmann::ordered_json(r.name->kind) : nlohmann::ordered_json(nullptr)},
                         {"parent", r.name && !r.name->parent.empty() ? nlohmann::ordered_json(r.name->parent)
                                                                      : nlohmann::ordered_json(nullptr)},
                         {"fork", r.fork}, {"files", r.files}, {"blocks", r.blocks}, {"damaged", r.damaged},
                         {"rows_on_damaged_blocks", r.rows_on_damaged}, {"damaged_blocks_rows_unknown", r.rows_unknown},
                         {"tuple_problems", r.tuple_problems}});
  }
  return doc;
}

}  // namespace pgrescue
