// The one answer to "can pg_control be trusted, and why". Every tool asks
// here before it takes a value from pg_control: the planner, the WAL
// geometry, the reset and its --from-wal.
#pragma once

#include <string>

#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/control/control_layout.h"

namespace pgrescue {

enum class ControlVerdict {
  kTrusted,       // readable, CRC matches, every value plausible, the expected version
  kMissing,       // global/pg_control does not exist
  kUnreadable,    // it exists but cannot be parsed (too short, unknown version)
  kOtherVersion,  // parsed, but in another version's layout than PG_VERSION names
  kGuessed,       // parsed; its CRC does not match or a value is implausible
};

// Pointers point into the DataDir judged, which must outlive this.
struct ControlTrust {
  ControlVerdict verdict = ControlVerdict::kMissing;
  const ControlFileRead* read = nullptr;   // set unless kMissing / kUnreadable
  const ControlFile* trusted = nullptr;    // set only when kTrusted
  bool implausible = false;                // a value no server writes (kGuessed)
  std::string why;                         // one sentence for a DBA

  bool ok() const { return verdict == ControlVerdict::kTrusted; }
  // Missing, unreadable, or both its CRC and its values wrong: a reset
  // needs --rebuild to make a new one.
  bool needs_rebuild() const {
    return verdict == ControlVerdict::kMissing || verdict == ControlVerdict::kUnreadable ||
           (read != nullptr && !read->crc_ok() && implausible);
  }
};

// `expected` is the version the cluster is taken to be (PG_VERSION's);
// nullptr accepts pg_control's own.
ControlTrust JudgeControl(const DataDir& dir, const ControlLayout* expected);

inline bool ControlNeedsRebuild(const DataDir& dir) { return JudgeControl(dir, nullptr).needs_rebuild(); }

}  // namespace pgrescue
