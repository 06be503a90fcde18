#include "libcontrol/base/wal_names.h"

#include <array>

#include <fmt/format.h>

namespace pgrescue {
namespace {

// Each byte's value as an upper-case hex digit, or 0xFF: a table, because
// a plan parses every name in a 100,000-file pg_wal twice.
constexpr std::array<uint8_t, 256> kUpperHexDigit = [] {
  std::array<uint8_t, 256> t{};
  t.fill(0xFF);
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<uint8_t>(c - 'A' + 10);  // the server writes upper case only
  return t;
}();

std::optional<uint32_t> UpperHex32(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  uint32_t v = 0;
  uint8_t bad = 0;
  for (char c : s) {
    const uint8_t d = kUpperHexDigit[static_cast<unsigned char>(c)];
    bad |= d;
    v = (v << 4) | (d & 0xF);
  }
  if (bad & 0xF0) return std::nullopt;
  return v;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

bool IsValidWalSegmentSize(uint64_t bytes) {
  return bytes >= kMinWalSegmentSize && bytes <= kMaxWalSegmentSize && (bytes & (bytes - 1)) == 0;
}

uint64_t SegmentsPerLogId(uint64_t segment_size) { return 0x100000000ull / segment_size; }

uint64_t SegmentNumberOf(Lsn lsn, uint64_t segment_size) { return lsn.value / segment_size; }

Lsn SegmentStart(uint64_t segment_number, uint64_t segment_size) {
  return Lsn{segment_number * segment_size};
}

std::string WalSegmentName::ToString(uint64_t segment_size) const {
  const uint64_t per_log = SegmentsPerLogId(segment_size);
  return fmt::format("{:08X}{:08X}{:08X}", timeline,
                     static_cast<uint32_t>(segment_number / per_log),
                     static_cast<uint32_t>(segment_number % per_log));
}

WalSegmentName SegmentNameFor(uint32_t timeline, Lsn lsn, uint64_t segment_size) {
  return WalSegmentName{timeline, SegmentNumberOf(lsn, segment_size)};
}

WalFileName ClassifyWalFileName(std::string_view name, uint64_t segment_size) {
  WalFileName out;
  if (name.starts_with("xlogtemp.") || EndsWith(name, ".tmp")) {
    out.kind = WalFileKind::kTemporary;
    return out;
  }
  if (name.size() == 16 && EndsWith(name, ".history")) {
    if (auto tli = UpperHex32(name.substr(0, 8))) {
      out.kind = WalFileKind::kHistory;
      out.timeline = *tli;
    }
    return out;
  }
  if (name.size() < 24) return out;
  const auto tli = UpperHex32(name.substr(0, 8));
  const auto log = UpperHex32(name.substr(8, 8));
  const auto seg = UpperHex32(name.substr(16, 8));
  if (!tli || !log || !seg || !IsValidWalSegmentSize(segment_size) ||
      *seg >= SegmentsPerLogId(segment_size)) {
    return out;
  }
  const uint64_t segno = uint64_t{*log} * SegmentsPerLogId(segment_size) + *seg;
  const std::string_view rest = name.substr(24);
  if (rest.empty()) {
    out.kind = WalFileKind::kSegment;
  } else if (rest == ".partial") {
    out.kind = WalFileKind::kPartial;
  } else if (rest.size() == 16 && rest[0] == '.' && EndsWith(rest, ".backup")) {
    const auto offset = UpperHex32(rest.substr(1, 8));
    if (!offset) return out;
    out.kind = WalFileKind::kBackup;
    out.backup_offset = *offset;
  } else {
    return out;
  }
  out.timeline = *tli;
  out.segment_number = segno;
  return out;
}

}  // namespace pgrescue
