// What the planner reasons from, gathered once: pg_control's trust, the
// block and WAL segment sizes with their sources, the SLRU runs, what WAL
// proves, the backup state and the data pages' LSNs. The derivations
// (derivations.h) and the hazards (hazards.h) read only this, so each can be
// tested over evidence built by hand.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/cluster/backup.h"
#include "libcontrol/cluster/control_trust.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/cluster/wal_geometry.h"
#include "libcontrol/control/control_layout.h"
#include "libcontrol/pages/page_scan.h"
#include "libcontrol/plan/planner.h"
#include "libcontrol/slru/slru.h"
#include "libcontrol/slru/slru_run.h"
#include "libcontrol/wal/wal_scan.h"

namespace pgrescue {

// One SLRU directory as listed: its segments, the run they form, and their
// sizes on demand (pg_xact can hold 4,096 files; the plan needs the sizes of
// the few its XID range touches).
struct SlruEvidence {
  std::optional<SlruLayout> layout;    // unset: the version has no such SLRU
  std::optional<SlruRun> run;          // unset: no segments
  std::map<uint64_t, std::string> segments;  // segment -> file name as found
  std::vector<std::string> unknown;    // names that are not segments
  std::string dir;                     // relative name for messages
  std::string path;                    // the directory as found

  // A segment's size in bytes, read now; 0 when it is absent.
  uint64_t Bytes(uint64_t segment) const;
};

// Pointers point into the DataDir, layout and options given to
// GatherEvidence, which must outlive the evidence.
struct PlanEvidence {
  const DataDir* dir = nullptr;
  const ControlLayout* layout = nullptr;  // the version planned for
  ControlTrust trust;
  const ControlFile* control = nullptr;   // pg_control when trusted, else nullptr
  ClusterGeometry geometry;               // block and segment size with sources
  SlruEvidence xact, offsets, members, commit_ts;  // commit_ts without layout before 9.5
  BackupState backup;
  std::optional<WalScanReport> wal;       // unset when WAL could not be scanned
  WalProof proof;                         // what every counter must reach
  bool crash_recovery_works = false;      // from pg_control's checkpoint
  std::string control_problem;            // why it does not
  bool backup_wal_readable = false;       // from the backup's start to the end of WAL
  std::optional<Lsn> from_wal;            // the checkpoint --from-wal would choose
  std::optional<Lsn> skipped_newer;       // a newer usable one the backup forbids
  PageScanReport pages;
  bool pages_complete = true;             // every page read and trusted
  std::vector<std::string> found;         // what the scan saw, one line each

  uint64_t Pc(Field f) const { return control->value(f); }
  uint32_t block_size() const { return geometry.block_size; }
  uint64_t segment_size() const { return geometry.segment_size; }
  std::string Rel(const std::string& path) const;
};

PlanEvidence GatherEvidence(const DataDir& dir, const ControlLayout& layout, const PlanOptions& options);

// Lists one SLRU directory (exposed for hand-built evidence in tests).
SlruEvidence ListSlru(const DataDir& dir, const DirListing& listing, SlruKind kind, const ControlLayout& layout,
                      uint32_t block_size);

// Crash recovery starting at the checkpoint `at` replays to the end of
// valid WAL: the checkpoint and its redo point are readable, and no break
// lies between it and the end.
bool RecoverableFrom(const WalScanReport* wal, Lsn at);

// How close pg_control's next XID is to wrapping around past its oldest
// unfrozen XID: a line saying so, and whether it is within the distance where
// the server warns (and, nearer still, stops assigning XIDs). Unset without a
// trusted pg_control.
struct XidWrapDistance {
  bool near = false;
  std::string line;
};
std::optional<XidWrapDistance> JudgeXidWrap(const PlanEvidence& e);

}  // namespace pgrescue
