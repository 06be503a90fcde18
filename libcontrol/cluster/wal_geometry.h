// The one WAL geometry: which version's WAL, what segment and page size,
// and where WAL lives, worked out from a data directory with the reason for
// each. Every tool that reads or writes WAL asks here.
#pragma once

#include <string>
#include <vector>

#include "libcontrol/base/result.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/wal/wal_scan.h"

namespace pgrescue {

// Scan options for `dir`: version, segment and page size from pg_control
// when it is readable, else from PG_VERSION and the newest WAL long page
// header; pg_wal first, then the archives. `why` says where each came from.
struct WalGeometry {
  WalScanOptions options;
  std::vector<std::string> why;
};
Result<WalGeometry> WalScanOptionsFor(const DataDir& dir, WalScanMode mode);

}  // namespace pgrescue
