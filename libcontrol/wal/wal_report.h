// A WAL scan of a data directory as a DBA reads it: which WAL was read, where
// valid WAL ends and why, the checkpoints, and what WAL proves was used.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libcontrol/base/result.h"
#include "libcontrol/wal/wal_scan.h"

namespace pgrescue {

// "512 kB", "16.0 MB": sizes of WAL as the reports print them.
std::string FormatMegabytes(uint64_t bytes);

std::string FormatWalReport(const WalScanReport& report, const WalScanOptions& options);
nlohmann::ordered_json WalReportToJson(const WalScanReport& report, const WalScanOptions& options);

// The checkpoint's fields in pg_control_checkpoint()'s keys.
nlohmann::ordered_json CheckpointToJson(const WalCheckpoint& checkpoint, const ControlLayout& layout);

}  // namespace pgrescue
