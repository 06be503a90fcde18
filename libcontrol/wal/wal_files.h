// Where WAL can be read from: segment files in pg_wal and archive
// directories (plain or .partial), on the timelines that lead to the newest
// one according to its .history file.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libcontrol/base/dir_listing.h"
#include "libcontrol/base/lsn.h"
#include "libcontrol/base/result.h"
#include "libcontrol/wal/wal_reader.h"

namespace pgrescue {

// One line of a .history file, plus the timeline itself: `timeline` holds
// WAL from `begin` up to `end` (the switch point; 0 for the newest, open).
struct TimelineSpan {
  uint32_t timeline = 0;
  Lsn begin;
  Lsn end;
};

// Parses a .history file's text for `timeline`: "parent<TAB>switchpoint<TAB>reason"
// lines, comments and blank lines skipped. Returns the spans oldest first,
// ending with `timeline` itself.
Result<std::vector<TimelineSpan>> ParseTimelineHistory(const std::string& text, uint32_t timeline);

// Points into the listing it was found in, which must outlive it. Kept to
// 24 bytes: a plan holds one per file of a 100,000-file pg_wal.
struct WalFile {
  const std::string* dir = nullptr;
  const char* name_data = nullptr;  // the listing's storage
  uint32_t timeline = 0;
  uint8_t name_size = 0;            // a WAL file name is 24 or 32 bytes
  bool partial = false;
  std::string_view name() const { return {name_data, name_size}; }
  std::string path() const { return *dir + "/" + std::string(name()); }
};

class WalFiles : public WalSegmentSource {
 public:
  // Lists `dirs` (pg_wal first, then archives) and follows the newest
  // timeline's history, or `timeline`'s when given.
  static Result<WalFiles> Open(const std::vector<std::string>& dirs, uint64_t segment_size,
                               std::optional<uint32_t> timeline = std::nullopt);
  // The same from directories already listed (a data directory scan's),
  // which must outlive the WalFiles.
  static Result<WalFiles> FromListings(const std::vector<const DirListing*>& listings, uint64_t segment_size,
                                       std::optional<uint32_t> timeline = std::nullopt);

  uint32_t timeline() const { return history_.back().timeline; }
  const std::vector<TimelineSpan>& history() const { return history_; }
  // Segment numbers with a file on the way to timeline(), ascending.
  std::vector<uint64_t> SegmentNumbers() const;
  // The file read for `segment_number`: the newest timeline whose span
  // reaches that segment and has it. Valid as long as this WalFiles.
  const WalFile* Find(uint64_t segment_number) const;
  uint64_t segment_size() const { return segment_size_; }
  uint64_t segments_read() const { return segments_read_; }

  // The whole segment (timeline argument ignored: the history decides).
  std::optional<std::span<const uint8_t>> Segment(uint32_t timeline, uint64_t segment_number) override;
  // Its first `bytes` bytes only, for cheap header checks.
  std::optional<std::vector<uint8_t>> Head(uint64_t segment_number, size_t bytes) const;

  // Called after each segment is read in full.
  std::function<void(uint64_t segment_number)> on_segment_read;

 private:
  explicit WalFiles(uint64_t segment_size) : segment_size_(segment_size) {}

 public:
  WalFiles(WalFiles&& other) noexcept;
  WalFiles& operator=(WalFiles&&) = delete;
  WalFiles(const WalFiles&) = delete;
  ~WalFiles() override;

 private:

  uint64_t segment_size_;
  std::vector<TimelineSpan> history_;
  std::vector<DirListing> owned_;  // what Open listed; WalFile points into it
  // Every file on the way to timeline(), by segment number then newest
  // timeline first. A flat vector: pg_wal can hold 100,000 segments.
  struct Numbered {
    uint64_t segno;
    WalFile file;
  };
  std::vector<Numbered> files_;
  // The two segments read last: a record crossing a boundary, and a
  // backward search stepping one segment back, read each only once. A whole
  // segment file is mapped (no copy out of the page cache); a short one
  // (.partial, or cut off) is read into `buffer` with zeros after its end.
  struct Slot {
    std::optional<uint64_t> segment;
    std::span<const uint8_t> bytes;
    void* mapped = nullptr;
    std::vector<uint8_t> buffer;
  };
  bool Load(const std::string& path, Slot& slot);
  static void Unmap(Slot& slot);
  Slot slots_[2];
  int newest_slot_ = 0;
  uint64_t segments_read_ = 0;
};

}  // namespace pgrescue
