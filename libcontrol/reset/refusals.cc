#include "libcontrol/reset/refusals.h"

#include <fmt/format.h>

#include "libcontrol/plan/remedies.h"

namespace pgrescue {
namespace {

SafetyCheck Refused(std::string message, std::string hint, std::vector<std::string> evidence = {}) {
  return SafetyCheck{Refusal{std::move(message), std::move(hint), std::move(evidence)}, {}};
}

constexpr const char* kLeftoverLabelHint =
    "if no backup is being restored, move backup_label aside (it is a leftover); to go on anyway, use -f";

}  // namespace

SafetyCheck CheckNotInUse(const DataDir& dir) {
  if (dir.live.stale_writer_lock()) {
    const auto& f = *dir.live.pid_file;
    return Refused(fmt::format("postmaster.pid is the lock of pgrescue PID {} ({}), which stopped before it "
                               "finished: the directory may be part-way through its changes",
                               *f.writer_pid, f.writer_command),
                   fmt::format("run `pgrescue-reset --undo -D {}` to put back what it changed (it finds that run's "
                               "rescue folder from the lock) and remove the lock",
                               ShellQuote(dir.root)));
  }
  if (dir.live.in_use()) {
    std::string who;
    for (const auto& line : dir.live.Describe()) who += (who.empty() ? "" : "; ") + line;
    const std::string server = dir.live.PostgresWouldSay();
    return Refused("the data directory is still in use: " + who +
                       (server.empty() ? "" : "; PostgreSQL itself would refuse to start: \"" + server + "\""),
                   dir.live.writer_lock() ? "wait for that pgrescue run to end, then try again"
                                          : "stop the server (pg_ctl stop) or wait for these processes to end, then "
                                            "try again; nothing may be changed while they can still write");
  }
  if (dir.postmaster_pid) {
    return Refused("lock file \"postmaster.pid\" exists, but the process it names is not running",
                   "it is left by a crash; make sure no server uses this directory (also from other "
                   "hosts on shared storage), remove postmaster.pid, and try again");
  }
  return {};
}

SafetyCheck CheckStartPastBounds(const std::vector<WalStartBound>& bounds, Lsn start, bool force) {
  SafetyCheck check;
  for (const auto& b : bounds) {
    if (b.lsn < start) continue;
    std::string what = fmt::format("{} is {}, at or past where WAL would continue ({}): the server would "
                                   "fail every checkpoint with \"xlog flush request … is not satisfied\"",
                                   b.what, FormatLsn(b.lsn), FormatLsn(start));
    if (!force) {
      check.refusal = Refusal{std::move(what), "give -l a WAL file past it (pgrescue-plan derives one), or -f to "
                                               "go on anyway", {}};
      return check;
    }
    check.warnings.push_back(std::move(what));
  }
  return check;
}

SafetyCheck CheckGuessed(bool guessed, bool force) {
  if (!guessed || force) return {};
  return Refused("not proceeding because control file values were guessed",
                 "if these values seem acceptable, use -f to force reset");
}

SafetyCheck CheckCleanShutdown(const ControlFile& current, bool force) {
  if (force || current.value(Field::kState) == static_cast<uint64_t>(DbState::kShutdowned)) return {};
  return Refused("database server was not shut down cleanly; resetting the write-ahead log might cause "
                 "data to be lost",
                 "if its WAL is intact, start the server to run crash recovery instead; to reset anyway, "
                 "use -f");
}

Refusal RecoverBackupRefusal(const BackupState& backup, const std::string& data_dir, const std::string& why,
                             bool already_there) {
  if (already_there) {
    return Refusal{"the files are a backup copy or an unfinished recovery, and pg_control already points at the "
                   "newest checkpoint recovery may start from; no checkpoint in WAL is a better start",
                   fmt::format("follow the recover-backup remedy of `pgrescue-plan {}`: keep the backup's state "
                               "and let recovery replay from the backup's start",
                               ShellQuote(data_dir)),
                   backup.evidence};
  }
  return Refusal{why,
                 fmt::format("recovery must replay from the backup's start: follow the recover-backup remedy of "
                             "`pgrescue-plan {}` (keep the backup state, remove recovery.signal or supply the WAL, "
                             "start the server)",
                             ShellQuote(data_dir)),
                 backup.evidence};
}

SafetyCheck CheckCopyFinished(const DataDir& dir, bool force) {
  if (!dir.backup_label || dir.control_present || force) return {};
  return Refused("backup_label is there and global/pg_control is not: this is a base backup copy that stopped "
                 "before its end (pg_basebackup sends pg_control last), and other files are missing too; a "
                 "rebuilt pg_control would start a server on a partial copy",
                 "take a new base backup; to write into this copy anyway, use -f");
}

SafetyCheck CheckBackupLabelReadable(const DataDir& dir, const BackupState& backup, bool force) {
  if (!dir.backup_label || backup.label || force) return {};
  return Refused("backup_label exists, but names no START WAL LOCATION and CHECKPOINT LOCATION: where the backup "
                 "started, and so how far back recovery must begin, cannot be told",
                 kLeftoverLabelHint);
}

SafetyCheck CheckBackupLabelAgrees(const DataDir& dir, const BackupState& backup, Lsn chosen, bool force) {
  const bool agrees = backup.label && backup.label->checkpoint == chosen;
  if (!dir.backup_label || agrees || force) return {};
  return Refused("backup_label exists: the server would start from the checkpoint it names, not pg_control's",
                 kLeftoverLabelHint);
}

}  // namespace pgrescue
