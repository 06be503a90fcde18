#include "libcontrol/plan/backup_origin.h"

#include <filesystem>

#include <fmt/format.h>

namespace pgrescue {
namespace {

bool SameDirectory(const std::string& a, const std::string& b) {
  std::error_code ec1, ec2;
  const auto ca = std::filesystem::weakly_canonical(a, ec1), cb = std::filesystem::weakly_canonical(b, ec2);
  return !ec1 && !ec2 && ca == cb;
}

}  // namespace

BackupOrigin JudgeBackupOrigin(const PlanEvidence& e) {
  BackupOrigin o;
  const auto& label = e.backup.label;
  if (!label) {
    o.doubt = "no readable backup_label";
    return o;
  }
  if (label->method == "streamed") {
    o.doubt = "backup_label is a non-exclusive backup's (BACKUP METHOD: streamed): only a copy holds one";
    return o;
  }
  o.evidence.push_back(fmt::format("backup_label: an exclusive backup (pg_start_backup) started at {}{}",
                                   FormatLsn(label->start), label->start_time.empty() ? "" : ", " + label->start_time));
  if (e.dir->live.in_use()) {
    o.doubt = "the directory is still in use";
    return o;
  }
  // A start that failed removes postmaster.pid; one naming another
  // directory was copied from there.
  const auto& pid = e.dir->live.pid_file;
  if (e.dir->postmaster_pid && pid && pid->data_dir && !SameDirectory(*pid->data_dir, e.dir->root)) {
    o.doubt = fmt::format("postmaster.pid was written by a postmaster of {}, not of this directory: a copy",
                          *pid->data_dir);
    return o;
  }
  o.evidence.push_back(e.dir->postmaster_pid && pid && pid->data_dir
                           ? fmt::format("postmaster.pid: left by PID {} of this very directory, which no longer "
                                         "runs (killed or crashed)",
                                         pid->pid ? fmt::format("{}", *pid->pid) : "?")
                           : std::string("postmaster.pid: none (a start that failed removes it)"));
  if (e.control == nullptr || e.Pc(Field::kState) != static_cast<uint64_t>(DbState::kInProduction)) {
    o.doubt = "pg_control does not say \"in production\"";
    return o;
  }
  const Lsn checkpoint{e.Pc(Field::kCheckPoint)};
  if (checkpoint <= label->checkpoint) {
    o.doubt = fmt::format("pg_control's checkpoint {} is not newer than the backup's {}", FormatLsn(checkpoint),
                          FormatLsn(label->checkpoint));
    return o;
  }
  if (!e.crash_recovery_works) {
    o.doubt = "crash recovery cannot start from pg_control's checkpoint: " + e.control_problem;
    return o;
  }
  if (e.pages.max && e.wal && e.pages.max->lsn > e.wal->end.at) {
    o.doubt = fmt::format("a data page carries LSN {}, past the end of valid WAL", FormatLsn(e.pages.max->lsn));
    return o;
  }
  o.evidence.push_back(fmt::format("pg_control: \"in production\" at checkpoint {}, newer than the backup's {}, and "
                                   "crash recovery from it reads every record to the end of valid WAL at {} with no "
                                   "data page past it",
                                   FormatLsn(checkpoint), FormatLsn(label->checkpoint),
                                   FormatLsn(e.wal->end.at)));
  o.crashed_primary = true;
  return o;
}

}  // namespace pgrescue
