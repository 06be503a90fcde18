// backup_label in the primary itself, told from a copy. A primary that
// crashed inside an exclusive backup (pg_start_backup, 9.4 to 14) keeps
// backup_label, and its next start replays from the backup's checkpoint
// instead of its own. Once checkpoints have recycled that WAL it stops with
// "could not locate required checkpoint record", and the server's own hint
// (remove backup_label) is right for the primary but silently wrong for a
// copy: a copy's pages were read at different times, and only replay from
// the backup's start makes them agree.
//
// The primary is told from a copy by its files' change times: every file of
// a copy made during the backup was created after the backup started (no
// copy tool can set a change time back), while the primary's PG_VERSION is
// as old as the cluster. An atomic snapshot keeps change times, but is as
// crash-consistent as the primary, so the same remedy is right for it. The
// other facts, each shown: the label is an exclusive backup's; pg_control
// says "in production" at a checkpoint newer than the label's, and crash
// recovery from it reads to the end of WAL with no page past it;
// postmaster.pid, if any, is this directory's (a failed start removes it).
#pragma once

#include <string>
#include <vector>

#include "libcontrol/plan/evidence.h"

namespace pgrescue {

struct BackupOrigin {
  bool crashed_primary = false;       // every fact holds
  std::vector<std::string> evidence;  // the facts that hold, one line each
  std::string doubt;                  // the first that does not, unless crashed_primary
};

BackupOrigin JudgeBackupOrigin(const PlanEvidence& e);

}  // namespace pgrescue
