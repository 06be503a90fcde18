#include "libcontrol/plan/backup_origin.h"

#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "libcontrol/control/control_json.h"

namespace pgrescue {
namespace {

// backup_label's START TIME ("2026-11-27 09:19:40 UTC", in the server's
// log_timezone) as Unix seconds, with how far off it may be: exact in UTC,
// else within a day, as the zone's abbreviation is not resolved.
std::optional<std::pair<int64_t, int64_t>> LabelStartTime(const std::string& text) {
  struct tm tm {};
  const char* rest = strptime(text.c_str(), "%Y-%m-%d %H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  const std::string zone = std::string(rest).substr(std::string(rest).find_first_not_of(' ') == std::string::npos
                                                        ? std::string(rest).size()
                                                        : std::string(rest).find_first_not_of(' '));
  const bool utc = zone == "UTC" || zone == "GMT" || zone == "Z";
  return std::make_pair(static_cast<int64_t>(timegm(&tm)), utc ? int64_t{0} : int64_t{26 * 3600});
}

// When PG_VERSION's inode last changed: a copy creates it anew.
std::optional<int64_t> VersionFileChanged(const std::string& root) {
  struct stat st {};
  if (stat((root + "/PG_VERSION").c_str(), &st) != 0) return std::nullopt;
  return static_cast<int64_t>(st.st_ctim.tv_sec);
}

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
  if (e.dir->postmaster_pid && pid && pid->data_dir) {
    o.evidence.push_back(fmt::format("postmaster.pid: left by PID {} of this very directory, which no longer runs",
                                     pid->pid ? fmt::format("{}", *pid->pid) : "?"));
  }
  // Every file of a copy made during the backup (cp, rsync, tar,
  // pg_basebackup) was created after the backup started; the kernel sets a
  // file's change time and no copy tool can set it back. Only an atomic
  // snapshot keeps it, and a snapshot is as crash-consistent as the primary.
  const auto started = LabelStartTime(label->start_time);
  const auto changed = VersionFileChanged(e.dir->root);
  if (!started || !changed || *changed + started->second >= started->first) {
    o.doubt = fmt::format("PG_VERSION last changed {}, not before the backup started ({}): a copy's files look "
                          "like this, and nothing shows this directory is the primary itself",
                          changed ? FormatIsoUtc(*changed) : "?",
                          label->start_time.empty() ? "START TIME missing" : label->start_time);
    return o;
  }
  o.evidence.push_back(fmt::format("PG_VERSION last changed {}, before the backup started ({}): a copy made during "
                                   "the backup creates every file anew, so this directory is the one the backup "
                                   "was taken from",
                                   FormatIsoUtc(*changed), label->start_time));
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
