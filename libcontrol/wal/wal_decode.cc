#include "libcontrol/wal/wal_decode.h"

#include <ctime>

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/base/id_order.h"
#include "libcontrol/wal/wal_record.h"

namespace pgrescue {
namespace {

constexpr uint8_t kRmXact = 1, kRmMultiXact = 6;
constexpr uint8_t kXlogNextOid = 0x30;
constexpr uint8_t kXlogBackupEnd = 0x50;  // main data: the backup's start LSN
constexpr uint8_t kMultiXactCreate = 0x20;
constexpr uint8_t kXactCommit = 0x00, kXactCommitPrepared = 0x30, kXactCommitCompact94 = 0x60;

// 9.5+ record framing after the fixed header.
constexpr uint8_t kBlockIdMax = 32;
constexpr uint8_t kBlockIdTopLevelXid = 0xFC;
constexpr uint8_t kBlockIdOrigin = 0xFD;
constexpr uint8_t kBlockIdDataLong = 0xFE;
constexpr uint8_t kBlockHasImage = 0x10;
constexpr uint8_t kBlockSameRel = 0x80;
constexpr uint8_t kImageHasHole = 0x01;


}  // namespace

std::span<const uint8_t> RecordMainData(const ControlLayout& layout, const WalRecord& record) {
  const auto b = record.bytes;
  if (layout.crc_kind() == CrcKind::kLegacyCrc32) {
    const uint64_t len = LoadLittleEndian(b.data() + 8, 4);
    if (b.size() < 32 || len > b.size() - 32) return {};
    return b.subspan(32, len);
  }
  const uint8_t compressed = layout.rules().wal_image_compressed_mask;
  size_t pos = 24;
  while (pos < b.size()) {
    const uint8_t id = b[pos];
    if (id == kXlrBlockIdDataShort || id == kBlockIdDataLong) {
      const size_t width = id == kXlrBlockIdDataShort ? 1 : 4;
      if (pos + 1 + width > b.size()) return {};
      const uint64_t len = LoadLittleEndian(b.data() + pos + 1, width);
      if (len > b.size() - (pos + 1 + width)) return {};
      return b.subspan(b.size() - len);
    }
    if (id == kBlockIdOrigin) {
      pos += 3;
    } else if (id == kBlockIdTopLevelXid) {
      pos += 5;
    } else if (id <= kBlockIdMax) {
      if (pos + 4 > b.size()) return {};
      const uint8_t fork_flags = b[pos + 1];
      pos += 4;
      if (fork_flags & kBlockHasImage) {
        if (pos + 5 > b.size()) return {};
        const uint8_t image_info = b[pos + 4];
        pos += 5;
        if ((image_info & kImageHasHole) && (image_info & compressed)) pos += 2;
      }
      if (!(fork_flags & kBlockSameRel)) pos += 12;
      pos += 4;
    } else {
      return {};
    }
  }
  return {};
}

std::string FormatPgTimestamp(int64_t timestamp) {
  constexpr int64_t kUnixOffsetSeconds = 946684800;  // 2000-01-01 in Unix time
  int64_t seconds = timestamp / 1000000, micros = timestamp % 1000000;
  if (micros < 0) micros += 1000000, seconds -= 1;
  const time_t t = static_cast<time_t>(seconds + kUnixOffsetSeconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char text[32];
  strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return fmt::format("{}.{:06d} UTC", text, micros);
}

void WalMaxima::Observe(const ControlLayout& layout, const WalRecord& record) {
  if (record.xid >= 3 && (!newest_xid || Follows32(record.xid, *newest_xid))) {
    newest_xid = record.xid;
    newest_xid_at = record.lsn;
  }
  const bool legacy = layout.crc_kind() == CrcKind::kLegacyCrc32;
  const uint8_t code = record.info & 0xF0;
  if (record.rmid == kRmXlogId && code == kXlogNextOid) {
    const auto data = RecordMainData(layout, record);
    if (data.size() >= 4) next_oid = static_cast<uint32_t>(LoadLittleEndian(data.data() + 0, 4)), next_oid_at = record.lsn;
  } else if (record.rmid == kRmMultiXact && code == kMultiXactCreate) {
    // { mid, moff, nmembers }, moff 32 or 64 bits wide.
    const auto data = RecordMainData(layout, record);
    const bool wide = layout.rules().multixact_offsets_64bit;
    const size_t moff_at = wide ? 8 : 4, nmembers_at = wide ? 16 : 8;
    if (data.size() >= nmembers_at + 4) {
      const auto mid = static_cast<uint32_t>(LoadLittleEndian(data.data() + 0, 4));
      if (!newest_multi || Follows32(mid, *newest_multi)) {
        newest_multi = mid;
        next_multi_offset = LoadLittleEndian(data.data() + moff_at, wide ? 8 : 4) + LoadLittleEndian(data.data() + nmembers_at, 4);
        if (!wide) next_multi_offset = *next_multi_offset & 0xFFFFFFFFu;
        newest_multi_at = record.lsn;
      }
    }
  } else if (record.rmid == kRmXact) {
    const uint8_t op = legacy ? code : (record.info & 0x70);
    if (op == kXactCommit || op == kXactCommitPrepared || (legacy && op == kXactCommitCompact94)) {
      const auto data = RecordMainData(layout, record);
      // 9.4's COMMIT_PREPARED wraps the commit after the XID (8-aligned).
      const size_t at = legacy && op == kXactCommitPrepared ? 8 : 0;
      if (data.size() >= at + 8) {
        last_commit_time = static_cast<int64_t>(LoadLittleEndian(data.data() + at, 8));
        last_commit_xid = record.xid;
        last_commit_at = record.lsn;
        ++commits;
      }
    }
  }
}

std::optional<WalCheckpoint> DecodeCheckpoint(const ControlLayout& layout, const WalRecord& record,
                                              uint32_t timeline) {
  const auto body = CheckpointBody(layout, record);
  if (body.empty()) return std::nullopt;
  WalCheckpoint c;
  c.lsn = record.lsn;
  c.end = record.end;
  c.timeline = timeline;
  c.shutdown = (record.info & 0xF0) == 0x00;
  c.body.assign(body.begin(), body.end());
  return c;
}

std::optional<Lsn> DecodeBackupEnd(const ControlLayout& layout, const WalRecord& record) {
  if (record.rmid != kRmXlogId || (record.info & 0xF0) != kXlogBackupEnd) return std::nullopt;
  const auto data = RecordMainData(layout, record);
  if (data.size() < 8) return std::nullopt;
  return Lsn{LoadLittleEndian(data.data(), 8)};
}

void WalCheckpoint::ApplyTo(ControlFile* control) const {
  const ControlLayout& layout = control->layout();
  for (const Placement& p : layout.placements()) {
    if (!layout.InCheckpoint(p)) continue;
    control->set(p.field, LoadLittleEndian(body.data() + p.offset - layout.checkpoint_offset(), p.size));
  }
}

uint64_t WalCheckpoint::redo() const { return LoadLittleEndian(body.data() + 0, 8); }

}  // namespace pgrescue
