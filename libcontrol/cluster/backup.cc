#include "libcontrol/cluster/backup.h"

#include <fmt/format.h>

#include "libcontrol/control/control_text.h"

namespace pgrescue {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// "0/2000028 (file 000000010000000000000002)": the LSN before the space.
std::optional<Lsn> LeadingLsn(std::string_view value) {
  auto lsn = ParseLsn(value.substr(0, value.find(' ')));
  if (!lsn) return std::nullopt;
  return *lsn;
}

}  // namespace

std::optional<BackupLabel> ParseBackupLabel(std::string_view text) {
  BackupLabel label;
  std::optional<Lsn> start, checkpoint;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = Trim(line.substr(0, colon));
    const std::string_view value = Trim(line.substr(colon + 1));
    if (key == "START WAL LOCATION") start = LeadingLsn(value);
    else if (key == "CHECKPOINT LOCATION") checkpoint = LeadingLsn(value);
    else if (key == "BACKUP METHOD") label.method = value;
    else if (key == "BACKUP FROM") label.from = value;
    else if (key == "LABEL") label.label = value;
    else if (key == "START TIME") label.start_time = value;
    else if (key == "START TIMELINE") {
      uint32_t tli = 0;
      bool digits = !value.empty() && value.size() <= 9;
      for (char c : value) {
        if (c < '0' || c > '9') digits = false;
        else tli = tli * 10 + static_cast<uint32_t>(c - '0');
      }
      if (digits) label.timeline = tli;
    }
  }
  if (!start || !checkpoint) return std::nullopt;
  label.start = *start;
  label.checkpoint = *checkpoint;
  return label;
}

bool InRecovery(const ControlFile& control) {
  const auto state = static_cast<DbState>(control.value(Field::kState));
  return state == DbState::kInArchiveRecovery || state == DbState::kInCrashRecovery ||
         state == DbState::kShutdownedInRecovery;
}

bool BackupRecoveryUnfinished(const ControlFile& control) {
  return InRecovery(control) && (control.value(Field::kBackupStartPoint) != 0 ||
                                 control.value(Field::kBackupEndPoint) != 0 ||
                                 control.value(Field::kBackupEndRequired) != 0);
}

BackupState JudgeBackup(const DataDir& dir, const ControlFile* trusted) {
  BackupState state;
  if (dir.backup_label_text) {
    state.label = ParseBackupLabel(*dir.backup_label_text);
    state.recovering = true;
    if (state.label) {
      // The server starts from the label's checkpoint whatever pg_control says.
      state.newest_start = state.label->checkpoint;
      state.evidence.push_back(fmt::format("backup_label: backup started at {} (checkpoint {}{}{})",
                                           FormatLsn(state.label->start), FormatLsn(state.label->checkpoint),
                                           state.label->label.empty() ? "" : ", label \"" + state.label->label + "\"",
                                           state.label->start_time.empty() ? "" : ", " + state.label->start_time));
    } else {
      state.evidence.push_back("backup_label exists but names no START WAL LOCATION and CHECKPOINT LOCATION");
    }
  }
  if (dir.backup_label && !dir.control_present) {
    state.copy_unfinished = true;
    state.evidence.push_back("backup_label without global/pg_control: the copy stopped before its end (pg_basebackup "
                             "sends pg_control last), and the files after the break are missing too");
  }
  if (trusted == nullptr) return state;
  const ControlFile& c = *trusted;
  const uint64_t start = c.value(Field::kBackupStartPoint), end = c.value(Field::kBackupEndPoint);
  const bool end_required = c.value(Field::kBackupEndRequired) != 0;
  const uint64_t min_recovery = c.value(Field::kMinRecoveryPoint);
  if (BackupRecoveryUnfinished(c)) {
    state.evidence.push_back(fmt::format(
        "pg_control: backup start {}, backup end {}{}: recovery of a base backup began and has not reached "
        "the backup's end",
        FormatLsn(Lsn{start}), end == 0 ? "not reached" : FormatLsn(Lsn{end}),
        end_required ? ", end-of-backup record required" : ""));
    state.recovering = true;
    state.end_record_required = end_required;
  } else if (min_recovery != 0 && InRecovery(c)) {
    state.evidence.push_back(fmt::format("pg_control: state \"{}\" with minimum recovery point {}: recovery "
                                         "must reach that point before the data is consistent",
                                         DbStateText(c.value(Field::kState)), FormatLsn(Lsn{min_recovery})));
    state.recovering = true;
  }
  if (state.recovering && !state.newest_start) {
    // In recovery the server moves pg_control's checkpoint only to restart
    // points it has replayed past; anything newer skips unreplayed WAL.
    state.newest_start = Lsn{c.value(Field::kCheckPoint)};
  }
  return state;
}

}  // namespace pgrescue
