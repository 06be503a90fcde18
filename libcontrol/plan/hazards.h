// The hazards a DBA must weigh before any reset, read off the evidence, and
// the reasons pg_resetwal would need -f. Derivations add their own hazards
// through Decide and Inform as they find them.
#pragma once

#include <string>
#include <vector>

#include "libcontrol/plan/evidence.h"
#include "libcontrol/plan/planner.h"

namespace pgrescue {

inline void Decide(std::vector<Hazard>* hazards, std::string code, std::string message) {
  hazards->push_back({std::move(code), std::move(message), true});
}
inline void Inform(std::vector<Hazard>* hazards, std::string code, std::string message) {
  hazards->push_back({std::move(code), std::move(message), false});
}

// In the order a DBA reads them: who uses the directory, pg_control, the
// sizes, WAL, data pages, then the SLRUs. Adds -f reasons to `plan` too.
void EvidenceHazards(const PlanEvidence& e, Plan* plan);

// What the liveness check could not look at: said last, as a caveat.
void LivenessCaveats(const PlanEvidence& e, std::vector<Hazard>* hazards);

}  // namespace pgrescue
