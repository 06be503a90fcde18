// --finish-backup: a canceled exclusive backup's copy, proved consistent at
// the primary's shutdown (plan/backup_end.h), gets that point as its
// backup's end in pg_control. Nothing else changes: the server's recovery,
// as the DBA set it up, replays to that point, reaches consistency there and
// goes on to the end of the archive.
//
// Checked on real servers 10 to 14 (tests/server/finish_backup_test.py), in
// both states a DBA finds the copy in: never started (backup_label in place;
// the server keeps pg_control's backup end when it reads the label) and
// after the PANIC (backup_label.old, pg_control "in archive recovery" with a
// backup start and no end).
#pragma once

#include <optional>

#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/control/control_file.h"
#include "libcontrol/pages/page_scan.h"
#include "libcontrol/plan/backup_end.h"
#include "libcontrol/reset/refusals.h"

namespace pgrescue {

struct BackupFinish {
  BackupEndProof proof;
  std::optional<ControlFile> control;  // pg_control with the backup's end, when proven
};

// `current` is the trusted pg_control; `pages` the data pages already read.
// Neither is kept.
BackupFinish PlanBackupFinish(const DataDir& dir, const ControlFile& current, const PageScanReport& pages);

// Why --finish-backup writes nothing: the missing proof, and what was proved.
Refusal BackupEndRefusal(const BackupEndProof& proof);

}  // namespace pgrescue
