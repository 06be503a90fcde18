// What pgrescue-check prints: every damaged block and structural problem,
// a summary per relation fork, and totals; as text (pg_checksums' order:
// problems first, totals last) or as JSON with all of it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libcontrol/cluster/control_trust.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/catalogs/relation_names.h"
#include "libcontrol/pages/page_scan.h"

namespace pgrescue {

// How the check was set up, for the reader of the report.
struct CheckSetup {
  std::string data_dir;
  uint32_t block_size = 8192;
  bool checksums = false;      // verified
  std::string checksums_why;   // "pg_control says data checksum version 1", ...
  std::vector<std::string> warnings;  // e.g. the directory is in use
  RelationNames names;                // from the catalogs, as far as they could be read
  std::vector<std::string> relations; // --relation: only these, their TOAST tables and indexes
  // Shut down cleanly, so the catalogs on disk are as current as the files;
  // after a crash they may lag the WAL and the catalog checks would cry wolf.
  bool catalogs_current = false;
  // pg_xact lacks pages between the oldest and next XID (pg_control
  // trusted), so the scan gathered each XID's claims: a version table entry,
  // which lives as long as the program; nullptr otherwise.
  const ControlLayout* xact_lacking = nullptr;
};

// Tuples whose visibility needs a commit status pg_xact has lost.
struct XactUnanswered {
  struct Relation {
    std::string relation;  // base/5/16384
    std::string name;      // from the catalogs, or empty
    uint64_t tuples = 0;
  };
  uint64_t xids = 0;
  std::vector<Relation> relations;
};
XactUnanswered FindXactUnanswered(const PageScanReport& report, const CheckSetup& setup);

// The scan options for `dir` (PageScanOptionsFor) and what the report says
// of them: where the block size and the checksum setting came from, a
// warning when something still uses the directory (pages it writes during
// the check may read as torn), and the relations' names from the catalogs
// of the version PG_VERSION names.
// With `relations`, only their files are read; a name that matches no
// relation fails (nothing would be checked). With a cleanly shut down
// cluster's pg_control, tuples are checked against its next XID and
// MultiXactId.
Result<CheckSetup> SetUpCheck(const DataDir& dir, const ControlTrust& trust, const std::vector<std::string>& relations,
                              PageScanOptions* options);

struct RelationSummary {
  std::string relation;  // base/5/16384
  std::string fork;
  const CatalogName* name = nullptr;  // from the catalogs; nullptr when unknown
  uint64_t files = 0, blocks = 0, damaged = 0;
  uint64_t rows_on_damaged = 0;   // by the damaged blocks' line pointers
  uint64_t rows_unknown = 0;      // damaged heap blocks whose line pointers cannot be counted
  uint64_t tuple_problems = 0;
};

// One entry per relation fork, in walk order.
std::vector<RelationSummary> SummarizeRelations(const PageScanReport& report, const RelationNames& names);

std::string CheckReportText(const PageScanReport& report, const CheckSetup& setup);
nlohmann::ordered_json CheckReportJson(const PageScanReport& report, const CheckSetup& setup);

// The catalogs against each other and against the files (catalog_files.h);
// none with --relation, which reads only some files, nor when the catalogs
// may lag the WAL.
std::vector<CatalogFinding> CatalogFindings(const PageScanReport& report, const CheckSetup& setup);

// Whether anything was found: pgrescue-check exits 1 then.
bool FoundDamage(const PageScanReport& report, const CheckSetup& setup);

}  // namespace pgrescue
