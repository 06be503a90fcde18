// The planner: from a scanned data directory, every value pg_resetwal needs,
// each with the evidence and arithmetic behind it, and the hazards a DBA must
// weigh before any reset. It never writes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libcontrol/control/control_layout.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/cluster/server_log.h"
#include "libcontrol/plan/failure_catalogue.h"
#include "libcontrol/pages/page_scan.h"
#include "libcontrol/plan/remedies.h"
#include "libcontrol/base/result.h"

namespace pgrescue {

enum class Confidence { kHigh, kMedium, kLow };
std::string_view ConfidenceName(Confidence c);

struct DerivedValue {
  std::string option;        // "-x"
  std::string long_option;   // "--next-transaction-id" (11 on)
  std::string what;          // "next transaction ID"
  std::string value;         // as it goes on the command line
  std::vector<std::string> reasoning;  // sources, arithmetic, comparison
  Confidence confidence = Confidence::kHigh;
  bool in_command = true;    // false: shown, but the version's tool has no such option
};

struct Hazard {
  std::string code;          // stable identifier, e.g. "live-postmaster"
  std::string message;       // what, where, what to do
  bool needs_decision = true;  // false: information only
};

struct PlanOptions {
  bool reset_values = false;  // derive and print the reset even where recovery would work
  // Data pages already read by the caller with ScanDataPages (the planner
  // reads them itself when null); must outlive MakePlan.
  const PageScanReport* pages = nullptr;
  // The server's own account (its log, or lines pasted with --symptom): the
  // failures it names are judged against the disk (symptoms.h).
  std::vector<ServerLog> logs;
};


struct Plan {
  std::string data_dir;
  bool reset_values = false;              // asked for
  std::vector<Remedy> remedies;           // least destructive first
  std::optional<PageScanReport> page_lsn; // the data pages read: a new WAL must start past their largest LSN
  const ControlLayout* layout = nullptr;  // the version planned for
  std::vector<std::string> found;         // what the scan saw, one line each
  std::vector<std::string> log_sources;   // the logs read
  std::vector<Diagnosis> diagnoses;       // the failures the logs name, judged
  std::vector<Hazard> hazards;
  std::vector<DerivedValue> values;
  bool needs_force = false;
  std::vector<std::string> force_reasons;
  std::string command;                    // pg_resetwal / pg_resetxlog
  std::string pgrescue_command;           // the same through pgrescue-reset, keeping what it replaces

  // False only when nothing needs doing or the one remedy is to start the server.
  bool NeedsDecision() const;
  // Whether the reset values and command are part of the advice.
  bool ShowsReset() const;
};

// Fails only when the version cannot be told at all (no PG_VERSION and no
// readable pg_control).
Result<Plan> MakePlan(const DataDir& dir, const PlanOptions& options = {});

// Reads every data page's LSN with the cluster's block size and checksum
// setting (`trusted` pg_control, else a page header and no checksums).
PageScanReport ScanDataPages(const DataDir& dir, const ControlFile* trusted);

// What a new WAL must start past: the largest trusted data page LSN, and
// pg_control's minimum recovery point and backup end when `control` is
// given. A page or marker at or past the new start makes every later flush
// of it fail ("xlog flush request … is not satisfied").
struct WalStartBound {
  Lsn lsn;
  std::string what;  // "the largest LSN on a data page (base/1/1259 block 3)"
};
std::vector<WalStartBound> WalStartBounds(const ControlFile* control, const std::optional<PageLsnMax>& page_max);

std::string FormatPlan(const Plan& plan);
nlohmann::ordered_json PlanToJson(const Plan& plan);

}  // namespace pgrescue
