// Each value pg_resetwal takes, derived from the evidence alone: the value,
// the reasoning behind it, how sure it is, and whether the version's tool
// has the option. Hazards a derivation finds are appended to `hazards`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/plan/evidence.h"
#include "libcontrol/plan/planner.h"

namespace pgrescue {

using PlannedValue = DerivedValue;

// -x, with what -u, -c and -e need from it.
struct NextXidResult {
  PlannedValue value;
  std::optional<uint64_t> next;  // unset when it cannot be derived
  bool wrapped = false;          // the next XID passed 2^32: the epoch moves on
};
NextXidResult DeriveNextXid(const PlanEvidence& e, std::vector<Hazard>* hazards);
PlannedValue DeriveOldestXid(const PlanEvidence& e, std::optional<uint64_t> next_xid, std::vector<Hazard>* hazards);
PlannedValue DeriveMultiXacts(const PlanEvidence& e);        // -m next,oldest
PlannedValue DeriveMultiXactOffset(const PlanEvidence& e);   // -O
// -c; nullopt for versions without commit timestamps.
std::optional<PlannedValue> DeriveCommitTs(const PlanEvidence& e, std::optional<uint64_t> next_xid);
PlannedValue DeriveNextOid(const PlanEvidence& e);           // -o
PlannedValue DeriveWalStart(const PlanEvidence& e, std::vector<Hazard>* hazards);  // -l
PlannedValue DeriveEpoch(const PlanEvidence& e, bool xid_wrapped);                 // -e

// pg_control's oldest to next XID (and MultiXact) must all have their SLRU
// pages: a reset cannot bring back a commit status or a MultiXact's members.
// Returns what pg_xact lacks, for the remedies.
std::optional<std::string> CheckSlruCoverage(const PlanEvidence& e, std::vector<Hazard>* hazards);

}  // namespace pgrescue
