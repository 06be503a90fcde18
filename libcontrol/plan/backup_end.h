// A canceled exclusive backup, proved consistent at the primary's shutdown.
//
// An exclusive backup (pg_start_backup, 9.4 to 14) whose pg_stop_backup
// never ran leaves a copy whose recovery has no end: archive recovery PANICs
// at the primary's shutdown checkpoint ("online backup was canceled"). The
// copy is consistent there nonetheless when
//   1. every WAL record from the backup's start through the first shutdown
//      checkpoint after it is readable (pg_wal and the archives given), and
//   2. the copy holds nothing the primary wrote after that shutdown: no page
//      LSN past the checkpoint record's end, every relation file read, and
//      no relation or commit-status file modified after the checkpoint's
//      time (before the copy's own first start, whose recovery writes pages
//      itself);
//   3. WAL holds no end-of-backup record for it: then the backup was not
//      canceled, and recovery ends it by itself.
// Recovery told that the checkpoint's end is the backup's end (pg_control's
// backupEndPoint) then replays exactly what an end-of-backup record would
// have made it replay, and reaches consistency there.
//
// File times are evidence, not proof: cp -a and rsync keep the time they
// read before copying the data, so a file changed during its own copy can
// look older than it is. They catch what the page LSNs miss (commit-status
// files, pages written without a newer LSN), never the other way round.
//
// Page LSNs alone cannot prove a copy read after the primary came back: a
// page torn by a concurrent write keeps its old header LSN in front of newer
// bytes. So no later end point is ever chosen; such a copy is refused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "libcontrol/base/lsn.h"
#include "libcontrol/plan/evidence.h"

namespace pgrescue {

struct BackupEndProof {
  bool proven = false;
  Lsn start;                // the backup's start (its checkpoint's redo point)
  Lsn shutdown_checkpoint;  // the primary's shutdown checkpoint record
  Lsn end_point;            // where that record ends: the backup's end
  int64_t shutdown_time = 0;             // the checkpoint's time (Unix seconds)
  std::vector<std::string> evidence;     // what was checked, one line each
  std::string missing;                   // unless proven: the proof that is missing, and what to do
};

// Reads only the evidence, and the relation files' modification times.
BackupEndProof ProveBackupEnd(const PlanEvidence& e);

}  // namespace pgrescue
