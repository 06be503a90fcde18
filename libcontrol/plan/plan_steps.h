// The last two steps of a plan: the pg_resetwal command from the derived
// values, and the remedies ranked by what each loses.
#pragma once

#include <optional>
#include <string>

#include "libcontrol/plan/evidence.h"
#include "libcontrol/plan/planner.h"

namespace pgrescue {

// Sets plan->command and plan->pgrescue_command from plan->values and -f.
void BuildCommands(const PlanEvidence& e, Plan* plan);

// Sets plan->remedies; `xact_missing` is what CheckSlruCoverage found.
void RankPlanRemedies(const PlanEvidence& e, const std::optional<std::string>& xact_missing, Plan* plan);

}  // namespace pgrescue
