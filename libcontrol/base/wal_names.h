// WAL segment file names: <timeline 8 hex><log 8 hex><seg 8 hex>, where
// log/seg split the segment number at 4 GiB worth of segments. Segment size
// is a power of two from 1 MB to 1 GB.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "libcontrol/base/lsn.h"
#include "libcontrol/base/result.h"

namespace pgrescue {

constexpr uint64_t kMinWalSegmentSize = 1u << 20;
constexpr uint64_t kMaxWalSegmentSize = 1u << 30;

bool IsValidWalSegmentSize(uint64_t bytes);

// Number of segments per 4 GiB "log" (the middle field of a name).
uint64_t SegmentsPerLogId(uint64_t segment_size);

uint64_t SegmentNumberOf(Lsn lsn, uint64_t segment_size);
Lsn SegmentStart(uint64_t segment_number, uint64_t segment_size);

struct WalSegmentName {
  uint32_t timeline = 0;
  uint64_t segment_number = 0;  // LSN / segment size

  std::string ToString(uint64_t segment_size) const;
  auto operator<=>(const WalSegmentName&) const = default;
};

// Name of the segment holding `lsn` on `timeline`.
WalSegmentName SegmentNameFor(uint32_t timeline, Lsn lsn, uint64_t segment_size);

enum class WalFileKind {
  kSegment,     // 000000010000000000000001
  kPartial,     // <segment>.partial (end of an old timeline after promotion)
  kBackup,      // <segment>.<offset 8 hex>.backup (backup history file)
  kHistory,     // <timeline 8 hex>.history
  kTemporary,   // xlogtemp.<pid>, or a name ending in .tmp
  kOther,
};

struct WalFileName {
  WalFileKind kind = WalFileKind::kOther;
  uint32_t timeline = 0;                // all kinds but kTemporary and kOther
  std::optional<uint64_t> segment_number;  // segment, partial and backup
  std::optional<uint32_t> backup_offset;   // backup only
};

// Classifies a file name found in pg_wal / pg_xlog or an archive. A segment
// name whose low field is not below SegmentsPerLogId(segment_size) is kOther:
// no server of that segment size writes it.
WalFileName ClassifyWalFileName(std::string_view name, uint64_t segment_size);

}  // namespace pgrescue
