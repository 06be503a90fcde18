// A WAL scan of a data directory as a DBA reads it: which WAL was read, where
// valid WAL ends and why, the checkpoints, and what WAL proves was used.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libcontrol/data_dir.h"
#include "libcontrol/result.h"
#include "libcontrol/wal_scan.h"

namespace pgrescue {

// Scan options for `dir`: version, segment and page size from pg_control
// when it is readable, else from PG_VERSION and the newest WAL long page
// header; pg_wal first, then the archives. `why` says where each came from.
struct WalGeometry {
  WalScanOptions options;
  std::vector<std::string> why;
};
Result<WalGeometry> WalScanOptionsFor(const DataDir& dir, WalScanMode mode);

std::string FormatWalReport(const WalScanReport& report, const WalScanOptions& options);
nlohmann::ordered_json WalReportToJson(const WalScanReport& report, const WalScanOptions& options);

// The checkpoint's fields in pg_control_checkpoint()'s keys.
nlohmann::ordered_json CheckpointToJson(const WalCheckpoint& checkpoint, const ControlLayout& layout);

}  // namespace pgrescue
