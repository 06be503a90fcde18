#include "libcontrol/plan/planner.h"

#include <fmt/format.h>

#include "libcontrol/plan/derivations.h"
#include "libcontrol/plan/evidence.h"
#include "libcontrol/plan/hazards.h"
#include "libcontrol/plan/plan_steps.h"
#include "libcontrol/plan/symptoms.h"

namespace pgrescue {
namespace {

// Evidence first, then the hazards it shows, then the values a reset would
// need (each may add hazards), then the command and the remedies ranked by
// what each loses.
void Run(const DataDir& dir, const ControlLayout& layout, const PlanOptions& options, Plan* plan) {
  PlanEvidence e = GatherEvidence(dir, layout, options);
  plan->found = std::move(e.found);
  EvidenceHazards(e, plan);
  auto* hazards = &plan->hazards;
  auto& values = plan->values;
  const NextXidResult next_xid = DeriveNextXid(e, hazards);
  values.push_back(next_xid.value);
  values.push_back(DeriveOldestXid(e, next_xid.next, hazards));
  const auto xact_missing = CheckSlruCoverage(e, hazards);
  values.push_back(DeriveMultiXacts(e));
  values.push_back(DeriveMultiXactOffset(e));
  if (auto commit_ts = DeriveCommitTs(e, next_xid.next)) values.push_back(std::move(*commit_ts));
  values.push_back(DeriveNextOid(e));
  values.push_back(DeriveWalStart(e, hazards));
  values.push_back(DeriveEpoch(e, next_xid.wrapped));
  plan->diagnoses = Diagnose(options.logs, e, xact_missing);
  for (const auto& log : options.logs) plan->log_sources.push_back(log.source);
  BuildCommands(e, plan);
  RankPlanRemedies(e, xact_missing, plan);
  LivenessCaveats(e, hazards);
  plan->page_lsn = std::move(e.pages);
}

}  // namespace

std::string_view ConfidenceName(Confidence c) {
  switch (c) {
    case Confidence::kHigh: return "high";
    case Confidence::kMedium: return "medium";
    case Confidence::kLow: return "low";
  }
  return "?";
}

bool Plan::NeedsDecision() const {
  return !(remedies.size() == 1 && remedies[0].code == "start-server" && remedies[0].loses.starts_with("nothing"));
}

bool Plan::ShowsReset() const { return reset_values || (!remedies.empty() && remedies[0].code == "reset"); }

PageScanReport ScanDataPages(const DataDir& dir, const ControlFile* trusted) {
  auto report = ScanPageLsns(PageScanOptionsFor(dir, trusted));
  if (!report) {
    PageScanReport none;
    none.structural.push_back({dir.root, FileProblem::kUnreadable, report.error().ToString()});
    return none;
  }
  return std::move(*report);
}

std::vector<WalStartBound> WalStartBounds(const ControlFile* control, const std::optional<PageLsnMax>& page_max) {
  std::vector<WalStartBound> out;
  if (page_max) {
    out.push_back({page_max->lsn, fmt::format("the largest LSN on a data page ({} block {})", page_max->file,
                                              page_max->block)});
  }
  if (control != nullptr) {
    for (auto [field, what] : {std::pair{Field::kMinRecoveryPoint, "pg_control's minimum recovery point"},
                               {Field::kBackupEndPoint, "pg_control's backup end"}}) {
      if (control->value(field) != 0) out.push_back({Lsn{control->value(field)}, what});
    }
  }
  return out;
}

Result<Plan> MakePlan(const DataDir& dir, const PlanOptions& options) {
  Plan plan;
  plan.data_dir = dir.root;
  plan.reset_values = options.reset_values;
  if (dir.pg_version) plan.layout = FindLayoutByMajor(*dir.pg_version);
  if (!plan.layout && dir.control && dir.control->ok()) plan.layout = &dir.control->value().control.layout();
  if (!plan.layout) {
    return MakeError(ErrorCode::kUnknownVersion,
                     dir.pg_version ? fmt::format("PG_VERSION says \"{}\", which pgrescue does not support "
                                                  "(9.4 to 19), and pg_control is not readable",
                                                  *dir.pg_version)
                                    : "PG_VERSION is missing and pg_control is not readable: the "
                                      "PostgreSQL version cannot be told. Write the major version "
                                      "(such as 15) into PG_VERSION",
                     dir.root);
  }
  Run(dir, *plan.layout, options, &plan);
  return plan;
}

}  // namespace pgrescue
