// From the server's words to a named failure, checked against the disk.
// A log line is a claim about the past: pg_control may have been restored
// since, a lock file's PID may have died. Each class found in the log is
// judged against what the data directory shows now, and the verdict says
// which facts decided it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "libcontrol/cluster/server_log.h"
#include "libcontrol/plan/evidence.h"
#include "libcontrol/plan/failure_catalogue.h"

namespace pgrescue {

// Every class the logs name, in catalogue order, each judged against `e`.
// `xact_missing` is what the SLRU coverage check found (plan_steps.h).
std::vector<Diagnosis> Diagnose(const std::vector<ServerLog>& logs, const PlanEvidence& e,
                                const std::optional<std::string>& xact_missing);

}  // namespace pgrescue
