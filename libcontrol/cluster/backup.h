// Whether the files are a base backup copy or a cluster in the middle of
// recovery, and so how far back crash recovery must start. Pointing
// pg_control at a checkpoint newer than a backup's start skips the WAL that
// makes the copied pages consistent: rows go missing with no error. Every
// remedy that moves pg_control asks this first.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libcontrol/control/control_file.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/base/lsn.h"

namespace pgrescue {

// backup_label as the server writes it at backup start (9.4 to 19):
// "START WAL LOCATION: 0/2000028 (file …)", "CHECKPOINT LOCATION: 0/2000060",
// and informational lines the parser keeps as text.
struct BackupLabel {
  Lsn start;        // the backup checkpoint's redo point
  Lsn checkpoint;   // the backup checkpoint record
  std::optional<uint32_t> timeline;  // START TIMELINE (11 on)
  std::string method, from, label, start_time;
};

// nullopt unless both locations are present and well formed.
std::optional<BackupLabel> ParseBackupLabel(std::string_view text);

struct BackupState {
  // The files are a backup copy or mid-recovery: recovery must replay from
  // `newest_start` or earlier, and the backup fields must stay as they are.
  bool recovering = false;
  std::optional<Lsn> newest_start;   // the newest checkpoint crash recovery may start from
  std::optional<BackupLabel> label;  // backup_label, when present and readable
  // Recovery must reach an end-of-backup record (non-exclusive backups):
  // only archive recovery (recovery.signal) stops there cleanly; crash
  // recovery ends with "WAL ends before end of online backup".
  bool end_record_required = false;
  // backup_label without global/pg_control: a copy that stopped before its
  // end. pg_basebackup sends pg_control last, and a live or crashed
  // primary always has one; files after the break are missing too.
  bool copy_unfinished = false;
  std::vector<std::string> evidence; // one line per fact, for the plan and refusals
};

// pg_control's state says recovery (archive, crash, or shut down in it).
bool InRecovery(const ControlFile& control);

// pg_control's backup fields say a base backup's recovery has not finished.
// 12 and 13 keep backupStartPoint after a finished crash recovery, so the
// fields count only while the state says recovery.
bool BackupRecoveryUnfinished(const ControlFile& control);

// `trusted` is pg_control when it can be trusted, else null; read during the
// call only (the state keeps copies of what it uses).
BackupState JudgeBackup(const DataDir& dir, const ControlFile* trusted);

}  // namespace pgrescue
