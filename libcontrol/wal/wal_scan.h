// The whole of a cluster's surviving WAL, judged: where valid WAL ends and
// why, every checkpoint found and whether crash recovery could start from
// it, and the highest IDs WAL proves were used.
//
// kLatestCheckpoint reads as little as it can: page headers say where
// records start on every page, so it reads the newest segments backwards
// until one holds a checkpoint, then validates every record from that
// checkpoint's redo point to the end (exactly what crash recovery would
// replay). kFull validates every record from the oldest segment on, like
// pg_waldump.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/control/control_layout.h"
#include "libcontrol/base/result.h"
#include "libcontrol/wal/wal_decode.h"
#include "libcontrol/wal/wal_files.h"
#include "libcontrol/wal/wal_reader.h"

namespace pgrescue {

enum class WalScanMode { kLatestCheckpoint, kFull };

struct WalScanProgress {
  uint64_t segments_read = 0;
  uint64_t segments_total = 0;  // what a full scan would read
  uint64_t segment_number = 0;  // the one just read
};

// The layout and listings are borrowed: they must outlive the ScanWal call,
// and the report keeps neither.
struct WalScanOptions {
  const ControlLayout* layout = nullptr;
  uint64_t segment_size = 0;
  uint32_t page_size = 8192;                 // XLOG_BLCKSZ
  std::vector<std::string> dirs;             // pg_wal first, then archives
  std::vector<const DirListing*> listings;   // or these directories, already listed
  WalScanMode mode = WalScanMode::kLatestCheckpoint;
  std::optional<uint32_t> timeline;          // default: the newest
  std::optional<uint64_t> system_identifier; // a trusted pg_control's: other clusters' WAL ends valid WAL
  std::function<void(const WalScanProgress&)> progress;
  // Called with every record validated, in WAL order (see WalRecord for how
  // long its bytes live).
  std::function<void(const WalRecord&)> each_record;
};

struct FoundCheckpoint {
  WalCheckpoint record;
  // Its redo point and every record from there to it were read without a
  // break: crash recovery can start here.
  bool usable = false;
};

// WAL written past the end of valid WAL: a page after the end's own page
// that carries its own address (magic and xlp_pageaddr). Crash recovery
// stops at the end, so what lies here is never replayed: commits in it are
// lost although the server starts. Read from the first record that starts
// on such a page until it stops.
struct WalPastEnd {
  Lsn page;        // the first such page
  Lsn from, to;    // the records read there: from the first start, to where reading stopped
  uint64_t records = 0;
  WalMaxima maxima;  // their commits
};

// "at least 1204 commit(s): those in WAL written past the break at 0/5A3F0D8
// (...), the last at ...": what a recovery that stops at `end` loses.
std::string DescribeWalPastEnd(const WalPastEnd& past, const WalScanEnd& end);

struct WalScanReport {
  WalScanMode mode = WalScanMode::kLatestCheckpoint;
  uint32_t timeline = 0;
  std::vector<TimelineSpan> history;
  uint64_t segments_present = 0;
  std::optional<uint64_t> oldest_segment, newest_segment;  // segment numbers present
  uint64_t recycled_segments = 0;  // files past the end whose pages belong to older WAL
  std::optional<uint64_t> newest_written_segment;  // the newest whose first page is its own
  uint64_t segments_read = 0;
  uint64_t bytes_validated = 0;
  uint64_t records = 0;
  Lsn validated_from;              // the first record validated
  std::vector<FoundCheckpoint> checkpoints;  // in WAL order
  WalScanEnd end;                  // the end of valid WAL and why
  std::vector<WalScanEnd> breaks;  // kFull: breaks before the end where reading resumed later
  WalMaxima maxima;                // over the records validated
  std::optional<WalPastEnd> past_end;  // written WAL beyond `end`, when any
  struct BackupEnd {
    Lsn lsn;    // the end-of-backup record
    Lsn start;  // the backup it ends
  };
  std::vector<BackupEnd> backup_ends;  // end-of-backup records among those validated

  // The newest checkpoint crash recovery could start from. Both point into
  // `checkpoints`: valid while the report lives and that vector is unchanged.
  const FoundCheckpoint* NewestUsable() const;
  const FoundCheckpoint* Find(Lsn lsn) const;
};

Result<WalScanReport> ScanWal(const WalScanOptions& options);

// ScanWal, then, when a checkpoint crash recovery might start from (pg_control's,
// a backup's start) is not among what a latest-checkpoint search read, every
// record, so that it can be judged. A failed second scan leaves the first.
Result<WalScanReport> ScanWalJudging(const WalScanOptions& options, std::initializer_list<std::optional<Lsn>> starts);

// The first record that starts in segment `segment_number` (after any record
// continued from the segment before), judged by page headers alone.
std::optional<Lsn> FirstRecordStart(std::span<const uint8_t> segment, uint64_t segment_number,
                                    uint64_t segment_size, uint32_t page_size, const ControlLayout& layout);

}  // namespace pgrescue

namespace pgrescue {

// What WAL proves about the counters a reset sets: lower bounds for each
// next value, from the newest usable checkpoint's body and from the records
// after it, each saying which.
struct WalBound {
  uint64_t next = 0;
  std::string why;
};
struct WalProof {
  std::optional<WalBound> next_xid, next_oid, next_multi, next_multi_offset;
};
WalProof ProveFromWal(const WalScanReport& report, const ControlLayout& layout);

}  // namespace pgrescue
