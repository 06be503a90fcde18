// Reads WAL records forward from a record start, validating every page
// header (magic, address, long header on segment starts), every record's
// CRC and its back-link to the record before, and stops at the true end of
// valid WAL, saying why and where.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libcontrol/control/control_layout.h"
#include "libcontrol/base/lsn.h"
#include "libcontrol/wal/wal_record.h"

namespace pgrescue {

// Gives whole WAL segments (exactly the segment size; missing tails read as
// zeros), or nothing when a segment is not there. A returned span need stay
// valid only until the next call to Segment on the same source (a directory
// source reuses one buffer); the reader copies what it needs across calls.
class WalSegmentSource {
 public:
  virtual ~WalSegmentSource() = default;
  virtual std::optional<std::span<const uint8_t>> Segment(uint32_t timeline, uint64_t segment_number) = 0;
};

// Segments from directories (pg_wal, archives), plain or .partial; keeps one
// segment in memory at a time, so each call invalidates the span before.
class WalDirectorySource : public WalSegmentSource {
 public:
  WalDirectorySource(std::vector<std::string> dirs, uint64_t segment_size)
      : dirs_(std::move(dirs)), segment_size_(segment_size) {}
  std::optional<std::span<const uint8_t>> Segment(uint32_t timeline, uint64_t segment_number) override;

 private:
  std::vector<std::string> dirs_;
  uint64_t segment_size_;
  std::optional<std::pair<uint32_t, uint64_t>> loaded_;
  std::vector<uint8_t> buffer_;
};

struct WalRecord {
  Lsn lsn;                          // where the record starts
  Lsn end;                          // the byte after it
  uint32_t xid = 0;
  Lsn prev;
  uint8_t info = 0;
  uint8_t rmid = 0;
  uint32_t total = 0;               // xl_tot_len
  // The whole record, header first. Empty for a record that crosses pages
  // and belongs to a resource manager other than XLOG, Transaction or
  // MultiXact: those are validated in place, never copied. Points into the
  // source's segment or the reader's buffer: valid only during the visit
  // call that receives the record; copy what must last (as WalCheckpoint does).
  std::span<const uint8_t> bytes;
};

enum class WalStop {
  kEndOfWal,         // zeroed space where the next record would start
  kMissingSegment,   // the next segment is not there
  kBadPageHeader,    // wrong magic, address or flags
  kBadRecordHeader,  // impossible length or resource manager
  kBadCrc,
  kBrokenChain,      // xl_prev does not point at the previous record
  kStoppedByCaller,
};

// Static text, so it may be kept.
std::string_view WalStopName(WalStop stop);

struct WalScanEnd {
  WalStop why = WalStop::kEndOfWal;
  Lsn at;              // the position where reading stopped
  std::string detail;  // one sentence
};

class WalReader {
 public:
  // `layout` and `source` must outlive the reader.
  WalReader(const ControlLayout& layout, uint64_t segment_size, uint32_t page_size, WalSegmentSource& source);

  // Reads records from `start` on `timeline`; `visit` returns false to stop.
  // `expected_prev` checks the first record's back-link too, when known.
  WalScanEnd Scan(Lsn start, uint32_t timeline, std::optional<Lsn> expected_prev,
                  const std::function<bool(const WalRecord&)>& visit);

  // Segments whose long page header names another system identifier end
  // valid WAL, as the server refuses them ("WAL file is from different
  // database system"). Unset, any identifier is read.
  void ExpectSystemIdentifier(std::optional<uint64_t> id) { system_identifier_ = id; }

 private:
  // The page holding `page_start`, its header checked; nullopt sets `end`.
  std::optional<std::span<const uint8_t>> Page(uint64_t page_start, uint32_t timeline, WalScanEnd* end);
  size_t HeaderSize(uint64_t page_start) const {
    return page_start % segment_size_ == 0 ? kWalLongPageHeaderSize : kWalShortPageHeaderSize;
  }

  const ControlLayout& layout_;
  uint64_t segment_size_;
  uint32_t page_size_;
  WalSegmentSource& source_;
  size_t record_header_size_;
  void AssemblePieces();  // copies pieces_ into assembled_
  std::vector<uint8_t> assembled_;  // reused for records that must be whole
  // A record's parts, page by page: point into the source's current segment
  // (or assembled_), so they never outlive one record's visit.
  std::vector<std::span<const uint8_t>> pieces_;
  // The page whose header was checked last; records on it skip the check.
  // Points into the source's segment, so each Scan starts by dropping it.
  std::optional<uint64_t> system_identifier_;
  uint64_t checked_page_start_ = 0;
  std::optional<std::span<const uint8_t>> checked_page_;
};

// The body of a checkpoint record (rmid XLOG, info SHUTDOWN or ONLINE): the
// CheckPoint struct bytes, or empty for any other record. Points into
// record.bytes, so it is valid only as long as they are.
std::span<const uint8_t> CheckpointBody(const ControlLayout& layout, const WalRecord& record);

}  // namespace pgrescue
