// Every transaction's commit status, decided from what the cluster still
// holds when pg_xact is lost: WAL commit and abort records (exact, with
// subtransactions and two-phase commits), surviving pg_xact pages, commit
// timestamps, tuple hint bits and all-visible pages (xid_evidence.h).
//
// Algorithm:
//   1. Read every data page, collecting each XID's claims from the tuples
//      and each relation's tuples by the XIDs their visibility depends on.
//   2. Read all WAL from the oldest segment on; note each outcome record.
//      Transactions still prepared at shutdown are in pg_twophase too.
//      When WAL runs unbroken from a checkpoint's redo point to its end and no
//      page is newer than that end, an XID at or past that checkpoint's next
//      XID with no commit record did not commit: its commit would be there.
//   3. Per XID: a surviving pg_xact page answers and is final. Otherwise the
//      claims for "committed" and for "not committed" are gathered; both
//      at once is a contradiction and leaves the XID unknown, never resolved
//      by preference.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libcontrol/base/result.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/control/control_file.h"
#include "libcontrol/pages/xid_evidence.h"

namespace pgrescue {

// Kinds of evidence, as bits.
namespace xact_source {
constexpr uint8_t kWal = 1;          // a commit or abort record
constexpr uint8_t kWalAbsent = 2;    // no commit record where WAL is complete
constexpr uint8_t kPgXact = 4;       // a surviving pg_xact page
constexpr uint8_t kCommitTs = 8;     // a recorded commit timestamp
constexpr uint8_t kHintBits = 16;
constexpr uint8_t kAllVisible = 32;
constexpr uint8_t kTwoPhase = 64;    // a pg_twophase state file: still prepared
constexpr uint8_t kAll[] = {kWal, kWalAbsent, kPgXact, kCommitTs, kHintBits, kAllVisible, kTwoPhase};
}  // namespace xact_source

// "wal", "wal_absent", "pg_xact", "commit_ts", "hint_bits", "all_visible", "pg_twophase".
std::string_view XactSourceName(uint8_t source);

enum class XactVerdict : uint8_t { kCommitted, kAborted, kInProgress, kUnknown };
std::string_view XactVerdictName(XactVerdict verdict);  // "committed", "aborted", "in progress", "unknown"

struct XidDecision {
  XactVerdict verdict = XactVerdict::kUnknown;
  uint8_t committed_by = 0;  // xact_source bits
  uint8_t aborted_by = 0;
  uint8_t prepared_by = 0;   // prepared for two-phase commit (WAL, pg_twophase), neither committed nor rolled back
  bool prepared = false;     // that, and nothing says it ended
  bool referenced = false;   // a tuple holds it as xmin or xmax
  bool needed = false;       // a tuple's visibility depends on it
  bool from_pg_xact = false; // its pg_xact page survives
  bool contradiction() const { return committed_by != 0 && aborted_by != 0; }
  // Every kind of evidence that answered.
  uint8_t sources() const { return committed_by | aborted_by | prepared_by; }
};

struct XactEvidence {
  uint32_t oldest_xid = 0;  // pg_control's
  uint32_t next_xid = 0;    // past pg_control's, every tuple's and WAL's XIDs
  std::map<uint32_t, XidDecision> decisions;   // every XID seen anywhere
  std::map<std::string, TupleShapes> shapes;   // heap relation path -> its tuples' shapes
  std::vector<std::string> read;               // what was read, a line each
  std::vector<std::string> warnings;           // evidence that could not be read
};

// Reads `dir` (pg_control trusted as `control`) with `jobs` threads.
Result<XactEvidence> GatherXactEvidence(const DataDir& dir, const ControlFile& control, unsigned jobs);

}  // namespace pgrescue
