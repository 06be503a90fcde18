// pg_control pointed at a checkpoint found in WAL, so that the server's own
// crash recovery replays everything after it: nothing is thrown away.
#pragma once

#include <optional>

#include "libcontrol/control_file.h"
#include "libcontrol/result.h"
#include "libcontrol/wal_scan.h"

namespace pgrescue {

// The checkpoint to start from: `wanted` if given (it must be in the report
// and usable), else the newest usable one.
Result<const FoundCheckpoint*> ChooseCheckpoint(const WalScanReport& report, std::optional<Lsn> wanted);

// `current` with its checkpoint location and copy taken from `checkpoint`, the
// state "in production" (so the server runs crash recovery from the redo
// point; "shut down" when the checkpoint is a shutdown checkpoint with no WAL
// after it), recovery and backup markers cleared, and `now` as its time.
ControlFile PointAtCheckpoint(const ControlFile& current, const WalScanReport& report,
                              const FoundCheckpoint& checkpoint, int64_t now);

}  // namespace pgrescue
