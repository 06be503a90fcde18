// The one WAL geometry: which version's WAL, what segment and page size, the
// block size, and where WAL lives, worked out from a data directory with the
// reason for each. Every tool that reads or writes WAL asks here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/base/result.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/control/control_layout.h"
#include "libcontrol/wal/wal_record.h"
#include "libcontrol/wal/wal_scan.h"

namespace pgrescue {

// How far to go when pg_control cannot be trusted. Reading WAL needs a size
// WAL itself states; planning and rebuilding can live with a guess it reports.
enum class GeometryFallback {
  kLongPageHeader,  // pg_control, else the newest WAL long page header, else an error
  kBestGuess,       // ... else the most common WAL file size, else 16 MB
};

struct ClusterGeometry {
  uint32_t block_size = 8192;  // BLCKSZ: pg_control, else a data page, else assumed
  std::string block_size_source;
  bool block_size_assumed = false;
  uint64_t segment_size = 16u << 20;
  std::string segment_size_source;
  bool segment_size_assumed = false;
  uint32_t page_size = 8192;  // XLOG_BLCKSZ: pg_control, else the header, else assumed
  // The newest long page header, when the sizes came from it (it also holds
  // the system identifier and page magic a rebuilt pg_control needs).
  std::optional<WalHeaderFound> header;
  std::vector<std::string> why;  // one line per source, for a DBA
};

// `trusted` is pg_control when JudgeControl trusts it, else nullptr; `layout`
// is the version planned for. Fails only under kLongPageHeader, when neither
// pg_control nor a WAL header states the segment size.
//
// pgrescue-reset and reset/rebuild.cc are meant to call this instead of their
// own header reading: WorkOutGeometry(dir, layout, nullptr, kBestGuess).
Result<ClusterGeometry> WorkOutGeometry(const DataDir& dir, const ControlLayout& layout, const ControlFile* trusted,
                                        GeometryFallback fallback);

// Scan options for `dir`: version, segment and page size from pg_control
// when it is readable, else from PG_VERSION and the newest WAL long page
// header; pg_wal first, then the archives. `why` says where each came from.
struct WalGeometry {
  WalScanOptions options;
  std::vector<std::string> why;
};
Result<WalGeometry> WalScanOptionsFor(const DataDir& dir, WalScanMode mode);

}  // namespace pgrescue
