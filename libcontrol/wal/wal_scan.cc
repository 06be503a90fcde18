#include "libcontrol/wal/wal_scan.h"

#include <algorithm>

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/base/id_order.h"
#include "libcontrol/base/wal_names.h"
#include "libcontrol/wal/wal_record.h"

namespace pgrescue {
namespace {

uint64_t MaxAlign(uint64_t v) { return (v + 7) & ~uint64_t{7}; }

bool ValidPageHeader(const uint8_t* page, uint64_t page_start, const ControlLayout& layout) {
  const auto magics = layout.wal_page_magics();
  return std::find(magics.begin(), magics.end(), Le16(page)) != magics.end() && Le64(page + 8) == page_start;
}

class Scanner {
 public:
  Scanner(const WalScanOptions& o, WalFiles& files, WalScanReport& report)
      : o_(o), files_(files), report_(report), reader_(*o.layout, o.segment_size, o.page_size, files) {
    reader_.ExpectSystemIdentifier(o.system_identifier);
  }

  // Validates records from `start` to the end of valid WAL; checkpoints are
  // recorded, usable when their redo point is not before `start`. Returns
  // where and why reading stopped.
  WalScanEnd Run(Lsn start) {
    std::vector<FoundCheckpoint> found;
    const auto end = reader_.Scan(start, files_.timeline(), std::nullopt, [&](const WalRecord& r) {
      ++report_.records;
      report_.maxima.Observe(*o_.layout, r);
      if (o_.each_record) o_.each_record(r);
      if (auto c = DecodeCheckpoint(*o_.layout, r, files_.timeline())) {
        found.push_back({std::move(*c), false});
        found.back().usable = found.back().record.redo() >= start.value;
      }
      if (auto backup_start = DecodeBackupEnd(*o_.layout, r)) report_.backup_ends.push_back({r.lsn, *backup_start});
      return true;
    });
    if (end.at > start) report_.bytes_validated += end.at.value - start.value;
    for (auto& c : found) Record(std::move(c));
    return end;
  }

  // Checkpoints in `start`..`until` without judging anything else.
  std::vector<WalCheckpoint> CheckpointsBetween(Lsn start, std::optional<Lsn> until) {
    std::vector<WalCheckpoint> found;
    reader_.Scan(start, files_.timeline(), std::nullopt, [&](const WalRecord& r) {
      if (until && r.lsn >= *until) return false;
      if (auto c = DecodeCheckpoint(*o_.layout, r, files_.timeline())) found.push_back(std::move(*c));
      return true;
    });
    return found;
  }

  std::optional<Lsn> RecordStartIn(uint64_t segno) {
    auto segment = files_.Segment(files_.timeline(), segno);
    if (!segment) return std::nullopt;
    return FirstRecordStart(*segment, segno, o_.segment_size, o_.page_size, *o_.layout);
  }

  // The first page past `end`'s page, up to the newest segment, that holds
  // WAL of its own, and the first record start on or after it.
  std::optional<WalPastEnd> PastEnd(Lsn end, uint64_t last_segment) {
    const uint64_t seg_size = o_.segment_size, page_size = o_.page_size;
    for (uint64_t segno = end.value / seg_size; segno <= last_segment; ++segno) {
      const auto segment = files_.Segment(files_.timeline(), segno);
      if (!segment || segment->size() < kWalLongPageHeaderSize) continue;
      if (o_.system_identifier && Le64(segment->data() + 24) != *o_.system_identifier) continue;  // another cluster's
      const uint64_t base = segno * seg_size;
      const uint64_t first = base > end.value ? 0 : (end.value - base) / page_size * page_size + page_size;
      std::optional<Lsn> own_page;
      for (uint64_t offset = first; offset + page_size <= segment->size(); offset += page_size) {
        const uint8_t* page = segment->data() + offset;
        if (!ValidPageHeader(page, base + offset, *o_.layout)) continue;
        if (!own_page) own_page = Lsn{base + offset};
        const uint64_t header = offset == 0 ? kWalLongPageHeaderSize : kWalShortPageHeaderSize;
        const uint64_t continued = (Le16(page + 2) & kXlpFirstIsContRecord) ? Le32(page + 16) : 0;
        const uint64_t start = MaxAlign(header + continued);
        if (start >= page_size) continue;
        WalPastEnd past{*own_page, Lsn{base + offset + start}, {}, 0, {}};
        past.to = reader_.Scan(past.from, files_.timeline(), std::nullopt, [&](const WalRecord& r) {
          ++past.records;
          past.maxima.Observe(*o_.layout, r);
          return true;
        }).at;
        return past;
      }
    }
    return std::nullopt;
  }

  bool HeadValid(uint64_t segno) {
    const auto head = files_.Head(segno, kWalLongPageHeaderSize);
    return head && ValidPageHeader(head->data(), segno * o_.segment_size, *o_.layout);
  }

 private:
  void Record(FoundCheckpoint c) {
    auto& list = report_.checkpoints;
    const auto it = std::find_if(list.begin(), list.end(),
                                 [&](const FoundCheckpoint& x) { return x.record.lsn == c.record.lsn; });
    if (it != list.end()) {
      it->usable = it->usable || c.usable;
      return;
    }
    list.insert(std::upper_bound(list.begin(), list.end(), c,
                                 [](const FoundCheckpoint& a, const FoundCheckpoint& b) {
                                   return a.record.lsn < b.record.lsn;
                                 }),
                std::move(c));
  }

  const WalScanOptions& o_;
  WalFiles& files_;
  WalScanReport& report_;
  WalReader reader_;
};

void ScanFull(Scanner& scanner, const std::vector<uint64_t>& segments, uint64_t segment_size,
              WalScanReport& report) {
  auto next = segments.begin();
  bool first_run = true;
  while (next != segments.end()) {
    std::optional<Lsn> start;
    for (; next != segments.end() && !start; ++next) start = scanner.RecordStartIn(*next);
    if (!start) break;
    if (first_run) {
      report.validated_from = *start;
    } else {
      report.breaks.push_back(report.end);
    }
    first_run = false;
    report.end = scanner.Run(*start);
    // Resume after a break only where a later segment holds WAL of its own.
    next = std::upper_bound(segments.begin(), segments.end(), SegmentNumberOf(report.end.at, segment_size));
    while (next != segments.end() && !scanner.HeadValid(*next)) ++next;
  }
}

// Newest segments first until one holds a checkpoint whose redo point leads
// to it without a break; then everything from that redo point to the end.
void ScanLatest(Scanner& scanner, const std::vector<uint64_t>& segments, WalScanReport& report) {
  auto newest = segments.rbegin();
  while (newest != segments.rend() && *newest != report.newest_written_segment) ++newest;
  std::optional<Lsn> limit;  // records from here on were already searched
  std::optional<Lsn> newest_start;
  for (auto it = newest; it != segments.rend(); ++it) {
    if (it != newest && *std::prev(it) != *it + 1) break;  // a gap: nothing older connects
    const auto start = scanner.RecordStartIn(*it);
    if (!start) continue;  // one record spans the whole segment
    if (!newest_start) newest_start = start;
    auto found = scanner.CheckpointsBetween(*start, limit);
    limit = start;
    for (auto c = found.rbegin(); c != found.rend(); ++c) {
      const Lsn redo{c->redo()};
      report.validated_from = redo;
      report.end = scanner.Run(redo);
      const auto* reached = report.Find(c->lsn);
      if (reached != nullptr && reached->usable) return;
    }
  }
  // No usable checkpoint: still say where WAL ends.
  if (newest_start) {
    report.validated_from = *newest_start;
    report.end = scanner.Run(*newest_start);
  } else {
    report.end = {WalStop::kBadPageHeader, Lsn{}, "no segment holds a valid record start"};
  }
}

}  // namespace

std::optional<Lsn> FirstRecordStart(std::span<const uint8_t> segment, uint64_t segment_number,
                                    uint64_t segment_size, uint32_t page_size, const ControlLayout& layout) {
  const uint64_t base = segment_number * segment_size;
  for (uint64_t offset = 0; offset + page_size <= segment.size(); offset += page_size) {
    const uint8_t* page = segment.data() + offset;
    if (!ValidPageHeader(page, base + offset, layout)) return std::nullopt;
    const uint64_t header = offset == 0 ? kWalLongPageHeaderSize : kWalShortPageHeaderSize;
    const uint64_t continued = (Le16(page + 2) & kXlpFirstIsContRecord) ? Le32(page + 16) : 0;
    const uint64_t start = MaxAlign(header + continued);
    if (start < page_size) return Lsn{base + offset + start};
  }
  return std::nullopt;
}

const FoundCheckpoint* WalScanReport::NewestUsable() const {
  for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it) {
    if (it->usable) return &*it;
  }
  return nullptr;
}

const FoundCheckpoint* WalScanReport::Find(Lsn lsn) const {
  for (const auto& c : checkpoints) {
    if (c.record.lsn == lsn) return &c;
  }
  return nullptr;
}

Result<WalScanReport> ScanWalJudging(const WalScanOptions& options, std::initializer_list<std::optional<Lsn>> starts) {
  auto report = ScanWal(options);
  if (!report || options.mode == WalScanMode::kFull || report->checkpoints.empty()) return report;
  const bool unread = std::any_of(starts.begin(), starts.end(), [&](const std::optional<Lsn>& at) {
    return at && report->Find(*at) == nullptr;
  });
  if (!unread) return report;
  WalScanOptions full = options;
  full.mode = WalScanMode::kFull;
  if (auto all = ScanWal(full)) return all;
  return report;
}

Result<WalScanReport> ScanWal(const WalScanOptions& o) {
  auto files = o.listings.empty() ? WalFiles::Open(o.dirs, o.segment_size, o.timeline)
                                  : WalFiles::FromListings(o.listings, o.segment_size, o.timeline);
  if (!files) return files.error();
  WalScanReport report;
  report.mode = o.mode;
  report.timeline = files->timeline();
  report.history = files->history();
  const auto segments = files->SegmentNumbers();
  report.segments_present = segments.size();
  if (segments.empty()) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("no WAL segment files on the way to timeline {}", report.timeline));
  }
  report.oldest_segment = segments.front();
  report.newest_segment = segments.back();
  if (o.progress) {
    files->on_segment_read = [&](uint64_t segno) {
      o.progress({files->segments_read(), segments.size(), segno});
    };
  }
  Scanner scanner(o, *files, report);
  // Segments hold their own WAL up to the end and recycled or preallocated
  // pages after it, so the boundary is found by bisection over first-page
  // headers (a pg_wal may hold thousands of recycled files). A valid header
  // shortly past a boundary (a damaged segment) moves the search beyond it.
  constexpr size_t kLookAhead = 64;
  size_t lo = 0, hi = segments.size();
  for (;;) {
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (scanner.HeadValid(segments[mid])) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    size_t next_valid = lo + 1;
    while (next_valid < std::min(segments.size(), lo + 1 + kLookAhead) && !scanner.HeadValid(segments[next_valid])) {
      ++next_valid;
    }
    if (next_valid >= std::min(segments.size(), lo + 1 + kLookAhead)) break;
    lo = next_valid + 1;
    hi = segments.size();
  }
  if (lo > 0) report.newest_written_segment = segments[lo - 1];
  report.recycled_segments = segments.size() - lo;
  if (o.mode == WalScanMode::kFull) {
    ScanFull(scanner, segments, o.segment_size, report);
  } else {
    ScanLatest(scanner, segments, report);
  }
  if (report.newest_written_segment && report.end.at.value > 0) {
    report.past_end = scanner.PastEnd(report.end.at, *report.newest_written_segment);
  }
  report.segments_read = files->segments_read();
  return report;
}

}  // namespace pgrescue

namespace pgrescue {

WalProof ProveFromWal(const WalScanReport& report, const ControlLayout& layout) {
  WalProof proof;
  // The later of two bounds (circular for 32-bit counters).
  auto take = [](std::optional<WalBound>& slot, uint64_t next, std::string why, bool wraps) {
    if (!slot || (wraps ? Follows32(next, slot->next) : next > slot->next)) slot = WalBound{next, std::move(why)};
  };
  if (const auto* c = report.NewestUsable()) {
    ControlFile body(layout);
    c->record.ApplyTo(&body);
    const std::string at = fmt::format("the checkpoint record at {} says", FormatLsn(c->record.lsn));
    take(proof.next_xid, body.value(Field::kNextXid), fmt::format("{} NextXID {}", at, body.value(Field::kNextXid)),
         true);
    take(proof.next_oid, body.value(Field::kNextOid), fmt::format("{} NextOID {}", at, body.value(Field::kNextOid)),
         true);
    take(proof.next_multi, body.value(Field::kNextMulti),
         fmt::format("{} NextMultiXactId {}", at, body.value(Field::kNextMulti)), true);
    take(proof.next_multi_offset, body.value(Field::kNextMultiOffset),
         fmt::format("{} NextMultiOffset {}", at, body.value(Field::kNextMultiOffset)),
         !layout.rules().multixact_offsets_64bit);
  }
  const auto& m = report.maxima;
  if (m.newest_xid) {
    take(proof.next_xid, (uint64_t{*m.newest_xid} + 1) & 0xFFFFFFFFu,
         fmt::format("XID {} is used by the record at {}", *m.newest_xid, FormatLsn(m.newest_xid_at)), true);
  }
  if (m.next_oid) {
    take(proof.next_oid, *m.next_oid,
         fmt::format("the NEXTOID record at {} reserves OIDs below {}", FormatLsn(m.next_oid_at), *m.next_oid), true);
  }
  if (m.newest_multi) {
    take(proof.next_multi, (uint64_t{*m.newest_multi} + 1) & 0xFFFFFFFFu,
         fmt::format("MultiXact {} is created by the record at {}", *m.newest_multi, FormatLsn(m.newest_multi_at)),
         true);
    take(proof.next_multi_offset, *m.next_multi_offset,
         fmt::format("its members end before offset {}", *m.next_multi_offset),
         !layout.rules().multixact_offsets_64bit);
  }
  return proof;
}

}  // namespace pgrescue
