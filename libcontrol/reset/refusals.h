// The reset's refusals, each with its reason and what to do, so that the
// tool only prints them: a directory still in use, a new WAL start at or
// below what pages or recovery markers already carry, guessed values or an
// unclean shutdown without -f, and (for --from-wal) a backup's start.
// Refusals and checks hold copies: none keeps a reference to its arguments.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "libcontrol/base/lsn.h"
#include "libcontrol/cluster/backup.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/control/control_file.h"
#include "libcontrol/plan/planner.h"

namespace pgrescue {

struct Refusal {
  std::string message;                // what is wrong
  std::string hint;                   // what to do about it
  std::vector<std::string> evidence;  // the facts behind it, printed before it
};

// One check's outcome: a refusal stops the reset with nothing written;
// warnings are printed and the reset goes on.
struct SafetyCheck {
  std::optional<Refusal> refusal;
  std::vector<std::string> warnings;
  bool passed() const { return !refusal.has_value(); }
};

// Anything still using the directory may write to it after the reset: a
// backend left by a killed postmaster still commits. A stale postmaster.pid
// is refused too: only a person can tell that no other host uses the files.
SafetyCheck CheckNotInUse(const DataDir& dir);

// A new WAL start at or below a bound reuses positions that pages or
// recovery markers already carry: refused, or with `force` warned.
SafetyCheck CheckStartPastBounds(const std::vector<WalStartBound>& bounds, Lsn start, bool force);

// pg_resetwal's own refusals without -f: values guessed from a damaged
// pg_control, and a server that was not shut down cleanly.
SafetyCheck CheckGuessed(bool guessed, bool force);
SafetyCheck CheckCleanShutdown(const ControlFile& current, bool force);

// --from-wal with a backup copy or an unfinished recovery: recovery must
// replay from the backup's start. `why` says what stands in the way.
Refusal RecoverBackupRefusal(const BackupState& backup, const std::string& data_dir, const std::string& why,
                             bool already_there);

// Every write: refused when backup_label is there without pg_control (an
// unfinished base backup copy), unless -f.
SafetyCheck CheckCopyFinished(const DataDir& dir, bool force);

// --from-wal and backup_label, without -f: refused when backup_label names
// no start and checkpoint (so how far back recovery must begin is unknown),
// and when it names another checkpoint than `chosen` (the server would start
// from that one).
SafetyCheck CheckBackupLabelReadable(const DataDir& dir, const BackupState& backup, bool force);
SafetyCheck CheckBackupLabelAgrees(const DataDir& dir, const BackupState& backup, Lsn chosen, bool force);

}  // namespace pgrescue
