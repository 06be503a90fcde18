#include "libcontrol/wal/wal_reader.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/base/crc.h"
#include "libcontrol/base/file_bytes.h"
#include "libcontrol/base/wal_names.h"
#include "libcontrol/wal/wal_record.h"

namespace pgrescue {
namespace {

constexpr uint8_t kXlogSwitch = 0x40;

uint64_t MaxAlign(uint64_t v) { return (v + 7) & ~uint64_t{7}; }

}  // namespace

std::string_view WalStopName(WalStop stop) {
  switch (stop) {
    case WalStop::kEndOfWal: return "end of WAL";
    case WalStop::kMissingSegment: return "missing segment";
    case WalStop::kBadPageHeader: return "invalid page header";
    case WalStop::kBadRecordHeader: return "invalid record header";
    case WalStop::kBadCrc: return "record CRC mismatch";
    case WalStop::kBrokenChain: return "broken back-link";
    case WalStop::kStoppedByCaller: return "stopped";
  }
  return "?";
}

std::optional<std::span<const uint8_t>> WalDirectorySource::Segment(uint32_t timeline, uint64_t segment_number) {
  if (loaded_ && loaded_->first == timeline && loaded_->second == segment_number) return std::span(buffer_);
  const std::string name = WalSegmentName{timeline, segment_number}.ToString(segment_size_);
  for (const auto& dir : dirs_) {
    for (const std::string& file : {name, name + ".partial"}) {
      auto head = ReadFileHead((std::filesystem::path(dir) / file).string(), segment_size_);
      if (!head) continue;
      buffer_ = std::move(head->bytes);
      buffer_.resize(segment_size_, 0);
      loaded_ = {timeline, segment_number};
      return std::span(buffer_);
    }
  }
  return std::nullopt;
}

WalReader::WalReader(const ControlLayout& layout, uint64_t segment_size, uint32_t page_size, WalSegmentSource& source)
    : layout_(layout),
      segment_size_(segment_size),
      page_size_(page_size),
      source_(source),
      record_header_size_(layout.crc_kind() == CrcKind::kLegacyCrc32 ? 32 : 24) {}

std::optional<std::span<const uint8_t>> WalReader::Page(uint64_t page_start, uint32_t timeline, WalScanEnd* end) {
  if (checked_page_ && checked_page_start_ == page_start) return checked_page_;
  const uint64_t segno = page_start / segment_size_;
  auto segment = source_.Segment(timeline, segno);
  if (!segment) {
    *end = {WalStop::kMissingSegment, Lsn{page_start},
            fmt::format("segment {} is not there", WalSegmentName{timeline, segno}.ToString(segment_size_))};
    return std::nullopt;
  }
  const auto page = segment->subspan(page_start % segment_size_, page_size_);
  const uint16_t magic = Le16(page.data());
  const uint16_t info = Le16(page.data() + 2);
  const auto magics = layout_.wal_page_magics();
  if (magic == 0 && Le64(page.data() + 8) == 0) {
    *end = {WalStop::kEndOfWal, Lsn{page_start}, "the page is zeroed"};
    return std::nullopt;
  }
  if (std::find(magics.begin(), magics.end(), magic) == magics.end()) {
    *end = {WalStop::kBadPageHeader, Lsn{page_start}, fmt::format("page magic {:04X} is not PostgreSQL {}'s", magic,
                                                                  layout_.major())};
    return std::nullopt;
  }
  if (Le64(page.data() + 8) != page_start) {
    *end = {WalStop::kBadPageHeader, Lsn{page_start},
            fmt::format("the page says it is at {}: a recycled segment's old page",
                        FormatLsn(Lsn{Le64(page.data() + 8)}))};
    return std::nullopt;
  }
  if (((info & kXlpLongHeader) != 0) != (page_start % segment_size_ == 0)) {
    *end = {WalStop::kBadPageHeader, Lsn{page_start}, "the long-header flag does not match the page's place"};
    return std::nullopt;
  }
  if ((info & kXlpLongHeader) != 0 && system_identifier_ && Le64(page.data() + 24) != *system_identifier_) {
    *end = {WalStop::kBadPageHeader, Lsn{page_start},
            fmt::format("WAL file is from different database system: WAL file database system identifier is {}, "
                        "pg_control database system identifier is {}",
                        Le64(page.data() + 24), *system_identifier_)};
    return std::nullopt;
  }
  checked_page_start_ = page_start;
  checked_page_ = page;
  return page;
}

namespace {

// Resource managers whose records the scan decodes (XLOG, Transaction,
// MultiXact): their records are handed over whole even when they cross pages.
bool Decoded(uint8_t rmid) { return rmid == 0 || rmid == 1 || rmid == 6; }

// The first `n` bytes of a record given as pieces.
void CopyPrefix(std::span<const std::span<const uint8_t>> pieces, uint8_t* out, size_t n) {
  for (auto piece : pieces) {
    const size_t take = std::min(n, piece.size());
    std::memcpy(out, piece.data(), take);
    out += take;
    n -= take;
    if (n == 0) return;
  }
}

}  // namespace

void WalReader::AssemblePieces() {
  assembled_.clear();
  for (auto piece : pieces_) assembled_.insert(assembled_.end(), piece.begin(), piece.end());
}

WalScanEnd WalReader::Scan(Lsn start, uint32_t timeline, std::optional<Lsn> expected_prev,
                           const std::function<bool(const WalRecord&)>& visit) {
  const bool legacy = record_header_size_ == 32;
  const size_t crc_at = legacy ? 24 : 20;
  checked_page_.reset();  // the source may have moved on since the last scan
  uint64_t pos = start.value;
  std::optional<Lsn> prev = expected_prev;
  WalScanEnd end;
  for (;;) {
    const uint64_t page_start = pos - pos % page_size_;
    auto page = Page(page_start, timeline, &end);
    if (!page) return end;
    if (pos == page_start) {
      pos += MaxAlign(HeaderSize(page_start));
      continue;
    }
    const size_t in_page = pos - page_start;
    const uint64_t record_lsn = pos;
    // Records are 8-aligned, so the length field is always on this page.
    const uint32_t total = Le32(page->data() + in_page);
    if (total == 0) return {WalStop::kEndOfWal, Lsn{pos}, "no record follows: zeroed space"};
    if (total < record_header_size_ || total > (1u << 30)) {
      return {WalStop::kBadRecordHeader, Lsn{pos}, fmt::format("record length {} is impossible", total)};
    }
    // A record inside its page is read in place. One that crosses pages is
    // kept as pieces of its pages (CRC computed piece by piece, nothing
    // copied) unless it crosses into another segment or is one the caller
    // decodes: then it is assembled.
    pieces_.clear();
    uint64_t record_end;
    bool copied = false;
    if (in_page + total <= page_size_) {
      pieces_.push_back(page->subspan(in_page, total));
      record_end = record_lsn + total;
    } else {
      pieces_.push_back(page->subspan(in_page));
      size_t gathered = pieces_.back().size();
      for (uint64_t next_page = page_start + page_size_;; next_page += page_size_) {
        if (next_page % segment_size_ == 0 && !copied) {
          // The pieces so far live in a segment that may be dropped.
          AssemblePieces();
          copied = true;
        }
        auto cont = Page(next_page, timeline, &end);
        if (!cont) return {end.why, Lsn{record_lsn}, "the record continues where WAL cannot be read: " + end.detail};
        const uint32_t rem = Le32(cont->data() + 16);
        if (!(Le16(cont->data() + 2) & kXlpFirstIsContRecord) || rem != total - gathered) {
          return {WalStop::kBadPageHeader, Lsn{next_page},
                  "the page does not continue the record before it (a torn write or a recycled page)"};
        }
        const size_t data_at = MaxAlign(HeaderSize(next_page));
        const size_t take = std::min<size_t>(rem, page_size_ - data_at);
        const auto piece = cont->subspan(data_at, take);
        if (copied) {
          assembled_.insert(assembled_.end(), piece.begin(), piece.end());
        } else {
          pieces_.push_back(piece);
        }
        gathered += take;
        if (gathered == total) {
          record_end = next_page + data_at + take;
          break;
        }
      }
      if (copied) {
        pieces_.clear();
        pieces_.push_back(assembled_);
      }
    }

    uint8_t header[32];
    CopyPrefix(pieces_, header, record_header_size_);
    WalRecord record;
    record.lsn = Lsn{record_lsn};
    record.end = Lsn{record_end};
    record.total = total;
    record.xid = Le32(header + 4);
    record.prev = Lsn{Le64(header + (legacy ? 16 : 8))};
    record.info = header[legacy ? 12 : 16];
    record.rmid = header[legacy ? 13 : 17];
    if (prev && record.prev != *prev) {
      return {WalStop::kBrokenChain, record.lsn,
              fmt::format("the record points back to {}, not to the record before it at {}",
                          FormatLsn(record.prev), FormatLsn(*prev))};
    }
    // CRC over everything after the fixed header, then the header up to the CRC field.
    uint32_t computed = 0;
    size_t skip = record_header_size_;
    for (auto piece : pieces_) {
      const size_t drop = std::min(skip, piece.size());
      skip -= drop;
      computed = legacy ? LegacyCrc32Extend(computed, piece.subspan(drop))
                        : Crc32cExtend(computed, piece.subspan(drop));
    }
    const std::span<const uint8_t> covered(header, crc_at);
    computed = legacy ? LegacyCrc32Extend(computed, covered) : Crc32cExtend(computed, covered);
    const uint32_t stored = Le32(header + crc_at);
    if (stored != computed) {
      return {WalStop::kBadCrc, record.lsn,
              fmt::format("record CRC {:08X} does not match the stored {:08X}", computed, stored)};
    }
    if (pieces_.size() == 1) {
      record.bytes = pieces_.front();
    } else if (Decoded(record.rmid)) {
      AssemblePieces();
      record.bytes = assembled_;
    }
    if (!visit(record)) return {WalStop::kStoppedByCaller, record.end, "stopped after this record"};
    prev = record.lsn;
    if (record.rmid == kRmXlogId && (record.info & 0xF0) == kXlogSwitch) {
      pos = ((record_end - 1) / segment_size_ + 1) * segment_size_;  // the rest of the segment is padding
    } else {
      pos = MaxAlign(record_end);
    }
  }
}

std::span<const uint8_t> CheckpointBody(const ControlLayout& layout, const WalRecord& record) {
  const bool legacy = layout.crc_kind() == CrcKind::kLegacyCrc32;
  if (record.rmid != kRmXlogId || (record.info & 0xE0) != 0) return {};
  const size_t at = legacy ? 32 : 26;
  if (!legacy && (record.bytes.size() < 26 || record.bytes[24] != kXlrBlockIdDataShort)) return {};
  if (record.bytes.size() < at + layout.checkpoint_size()) return {};
  return record.bytes.subspan(at, layout.checkpoint_size());
}

}  // namespace pgrescue
