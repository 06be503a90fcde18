// pg_control pointed at a checkpoint found in WAL, so that the server's own
// crash recovery replays everything after it: nothing is thrown away.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "libcontrol/cluster/backup.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/control/control_file.h"
#include "libcontrol/base/result.h"
#include "libcontrol/wal/wal_scan.h"

namespace pgrescue {

// The cluster's WAL read for checkpoints crash recovery can start from, with
// `current`'s version and geometry: the newest ones (every record with
// `full`), and the backup's start judged too. The report keeps no reference
// to `dir` or `current`.
Result<WalScanReport> ScanForCheckpoints(const DataDir& dir, const ControlFile& current, const BackupState& backup,
                                         bool full);

// "Checkpoint to start from: …", the end of valid WAL and the last commit
// in it, then a blank line.
std::string DescribeStart(const WalScanReport& report, const FoundCheckpoint& checkpoint);

// The checkpoint to start from: `wanted` if given (it must be in the report
// and usable), else the newest usable one. With `newest_allowed` (a backup's
// start, see backup.h) nothing newer is ever chosen: starting past a backup's
// start skips the WAL that makes its pages consistent.
// The pointer returned points into `report.checkpoints`: `report` must
// outlive it and must not change while it is used.
Result<const FoundCheckpoint*> ChooseCheckpoint(const WalScanReport& report, std::optional<Lsn> wanted,
                                                std::optional<Lsn> newest_allowed = std::nullopt);

// `current` with its checkpoint location and copy taken from `checkpoint`, the
// state "in production" (so the server runs crash recovery from the redo
// point; "shut down" when the checkpoint is a shutdown checkpoint with no WAL
// after it), and `now` as its time. Recovery and backup markers are cleared,
// unless `keep_backup_state`: a backup's recovery still needs them. The
// result refers to nothing of `report` or `checkpoint`; like every
// ControlFile it points at its version table entry, which lives as long as
// the program.
ControlFile PointAtCheckpoint(const ControlFile& current, const WalScanReport& report,
                              const FoundCheckpoint& checkpoint, int64_t now, bool keep_backup_state = false);

// An untrusted pg_control's identity checked against WAL's: the server
// refuses WAL whose system identifier differs from pg_control's ("WAL file is
// from different database system"), so a value kept from a damaged
// pg_control stops the very recovery --from-wal starts. The newest WAL long
// page header's system identifier, segment size and block size replace
// pg_control's where they differ; one line per value taken says so.
std::vector<std::string> TakeIdentityFromWal(const DataDir& dir, ControlFile* control);

}  // namespace pgrescue
