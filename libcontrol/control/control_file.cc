#include "libcontrol/control/control_file.h"

#include <bit>
#include <cstring>

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/base/file_bytes.h"
#include "libcontrol/base/wal_names.h"

namespace pgrescue {
namespace {

std::string Where(const std::string& source) { return source.empty() ? "pg_control" : source; }

std::string DescribeControlVersion(uint32_t v) {
  const auto layouts = FindLayoutsByControlVersion(v);
  if (layouts.empty()) return fmt::format("{}", v);
  std::string majors(layouts.front()->major());
  if (layouts.size() > 1) majors += fmt::format("–{}", layouts.back()->major());
  return fmt::format("{} (PostgreSQL {})", v, majors);
}

Error UnknownVersionError(uint32_t version, const std::string& source) {
  const uint32_t swapped = __builtin_bswap32(version);
  if (!FindLayoutsByControlVersion(swapped).empty() ||
      (version % 65536 == 0 && version / 65536 != 0)) {
    return MakeError(ErrorCode::kOtherEndianness,
                     fmt::format("pg_control version reads as {}, which is {} byte-swapped: the file "
                                 "was written on a machine of the other byte order; pgrescue reads "
                                 "little-endian (x86-64) clusters only",
                                 version, DescribeControlVersion(swapped)),
                     Where(source));
  }
  uint32_t below = 0, above = 0;
  for (const auto& l : AllControlLayouts()) {
    const uint32_t v = l.pg_control_version();
    if (v < version && v > below) below = v;
    if (v > version && (above == 0 || v < above)) above = v;
  }
  std::string nearest;
  if (below != 0) nearest = DescribeControlVersion(below);
  if (above != 0) nearest += (nearest.empty() ? "" : " and ") + DescribeControlVersion(above);
  return MakeError(ErrorCode::kUnknownVersion,
                   fmt::format("unknown pg_control version {}; the nearest known are {}. The file "
                               "is either not a pg_control file, damaged, or from a version "
                               "pgrescue does not support (9.4 to 19)",
                               version, nearest),
                   Where(source));
}

uint32_t StoredCrc(std::span<const uint8_t> bytes, const ControlLayout& l) {
  return static_cast<uint32_t>(LoadLittleEndian(bytes.data() + l.crc_offset(), 4));
}

uint32_t ComputedCrc(std::span<const uint8_t> bytes, const ControlLayout& l) {
  return ComputeCrc(l.crc_kind(), bytes.first(l.crc_offset()));
}

// Among layouts sharing a pg_control version, the catalog version decides;
// if it fits none (a development build), the one whose CRC validates, else
// the layout whose range is nearest.
const ControlLayout* ChooseLayout(std::span<const uint8_t> bytes,
                                  const std::vector<const ControlLayout*>& candidates,
                                  uint32_t catversion) {
  for (const auto* l : candidates) {
    if (l->CoversCatalogVersion(catversion)) return l;
  }
  // Those whose CRC holds, else all; then the nearest catalog version. Two
  // versions (9.4 and 9.5) can share a CRC's span: the first that holds is
  // not more likely than the other.
  std::vector<const ControlLayout*> crc_holds;
  for (const auto* l : candidates) {
    if (bytes.size() >= l->struct_size() && StoredCrc(bytes, *l) == ComputedCrc(bytes, *l)) crc_holds.push_back(l);
  }
  const auto& pool = crc_holds.empty() ? candidates : crc_holds;
  const ControlLayout* best = pool.front();
  uint64_t best_distance = UINT64_MAX;
  for (const auto* l : pool) {
    const uint64_t d = catversion < l->catversion_first() ? l->catversion_first() - catversion
                                                          : uint64_t{catversion} - l->catversion_last();
    if (d < best_distance) best_distance = d, best = l;
  }
  return best;
}

bool IsPowerOfTwoIn(uint64_t v, uint64_t lo, uint64_t hi) {
  return v >= lo && v <= hi && std::has_single_bit(v);
}

}  // namespace

int64_t ControlFile::signed_value(Field field) const {
  const Placement* p = layout_->Find(field);
  const uint64_t v = value(field);
  if (p == nullptr || p->size >= 8) return static_cast<int64_t>(v);
  const unsigned shift = 64 - 8u * p->size;
  return static_cast<int64_t>(v << shift) >> shift;
}

bool ControlFile::set(Field field, uint64_t value) {
  if (!layout_->Has(field)) return false;
  values_[Index(field)] = value;
  return true;
}

Result<ControlFileRead> ParseControlFile(std::span<const uint8_t> bytes, const std::string& source) {
  if (bytes.empty()) {
    return MakeError(ErrorCode::kEmpty,
                     "pg_control is empty (0 bytes); it should be 8192. Nothing can be read from "
                     "it: rebuild it from the cluster's other files",
                     Where(source));
  }
  if (bytes.size() < 16) {
    return MakeError(ErrorCode::kTruncated,
                     fmt::format("pg_control is only {} bytes, too short to hold even its version "
                                 "numbers; it should be 8192",
                                 bytes.size()),
                     Where(source));
  }
  const auto version = static_cast<uint32_t>(LoadLittleEndian(bytes.data() + 8, 4));
  const auto catversion = static_cast<uint32_t>(LoadLittleEndian(bytes.data() + 12, 4));
  const auto candidates = FindLayoutsByControlVersion(version);
  if (candidates.empty()) return UnknownVersionError(version, source);
  const ControlLayout& layout = *ChooseLayout(bytes, candidates, catversion);
  if (bytes.size() < layout.struct_size()) {
    return MakeError(ErrorCode::kTruncated,
                     fmt::format("pg_control is {} bytes, but PostgreSQL {}'s pg_control needs {} "
                                 "(and the file is normally 8192): it is truncated",
                                 bytes.size(), layout.major(), layout.struct_size()),
                     Where(source));
  }

  ControlFileRead read{ControlFile(layout), StoredCrc(bytes, layout), ComputedCrc(bytes, layout), {}};
  for (const Placement& p : layout.placements()) {
    if (p.type == CType::kNonce) {
      MockAuthNonce nonce;
      std::memcpy(nonce.data(), bytes.data() + p.offset, nonce.size());
      read.control.set_nonce(nonce);
    } else {
      read.control.set(p.field, LoadLittleEndian(bytes.data() + p.offset, p.size));
    }
  }

  if (!read.crc_ok()) {
    read.findings.push_back(
        {FindingKind::kCrcMismatch,
         fmt::format("calculated CRC checksum {:08X} does not match the value stored in the file, "
                     "{:08X}: the file is corrupt, or it has a different layout than PostgreSQL {}'s",
                     read.crc_computed, read.crc_stored, layout.major())});
  }
  if (bytes.size() != kControlFileSize) {
    read.findings.push_back({FindingKind::kUnexpectedFileSize,
                             fmt::format("the file is {} bytes; PostgreSQL writes pg_control as {}",
                                         bytes.size(), kControlFileSize)});
  }
  if (!layout.CoversCatalogVersion(catversion)) {
    read.findings.push_back(
        {FindingKind::kCatalogVersionOutOfRange,
         fmt::format("catalog version {} is outside PostgreSQL {}'s range ({}–{}); read with that "
                     "layout. A development or beta build, or a damaged file",
                     catversion, layout.major(), layout.catversion_first(), layout.catversion_last())});
  }
  auto plausibility = CheckPlausibility(read.control);
  read.findings.insert(read.findings.end(), std::make_move_iterator(plausibility.begin()),
                       std::make_move_iterator(plausibility.end()));
  return read;
}

Result<ControlFileRead> ReadControlFile(const std::string& path) {
  // Larger than any pg_control with a little garbage appended; an 8 GB
  // sparse file is not one to read whole.
  constexpr uint64_t kReadAtMost = 1 << 20;
  auto head = ReadFileHead(path, kReadAtMost);
  if (!head) return head.error();
  if (head->size > kReadAtMost) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("is {} bytes; PostgreSQL writes pg_control as {}: this is not a pg_control file "
                                 "(to try its first {} bytes anyway, copy them into a file of their own)",
                                 head->size, kControlFileSize, kControlFileSize),
                     path);
  }
  return ParseControlFile(head->bytes, path);
}

Result<std::vector<uint8_t>> SerializeControlFile(const ControlFile& control,
                                                  const ControlLayout& layout) {
  std::vector<uint8_t> bytes(kControlFileSize, 0);
  for (const Placement& p : layout.placements()) {
    if (p.type == CType::kNonce) {
      if (!control.nonce()) {
        return MakeError(ErrorCode::kMissingField,
                         fmt::format("PostgreSQL {} needs a mock authentication nonce and the "
                                     "model has none",
                                     layout.major()));
      }
      std::memcpy(bytes.data() + p.offset, control.nonce()->data(), kMockAuthNonceLength);
      continue;
    }
    const auto v = control.get(p.field);
    if (!v) {
      return MakeError(ErrorCode::kMissingField,
                       fmt::format("PostgreSQL {}'s pg_control has {} and the model has no value "
                                   "for it",
                                   layout.major(), FieldName(p.field)));
    }
    StoreLittleEndian(bytes.data() + p.offset, p.size, *v);
  }
  const uint32_t crc = ComputeCrc(layout.crc_kind(), std::span(bytes).first(layout.crc_offset()));
  StoreLittleEndian(bytes.data() + layout.crc_offset(), 4, crc);
  return bytes;
}

std::vector<Finding> CheckPlausibility(const ControlFile& c) {
  std::vector<Finding> out;
  auto flag = [&](std::string message) {
    out.push_back({FindingKind::kImplausibleValue, std::move(message)});
  };
  const auto& style = c.layout().text();
  if (c.value(Field::kState) > static_cast<uint64_t>(DbState::kInProduction)) {
    flag(fmt::format("cluster state {} is not one PostgreSQL knows (0–6)", c.value(Field::kState)));
  }
  for (Field f : {Field::kWalLevel, Field::kCheckpointWalLevel}) {
    if (c.has(f) && (c.signed_value(f) < 0 ||
                     static_cast<uint64_t>(c.signed_value(f)) >= style.wal_level_names.size())) {
      flag(fmt::format("{} {} is not one PostgreSQL {} knows", FieldName(f), c.signed_value(f),
                       c.layout().major()));
    }
  }
  if (!IsPowerOfTwoIn(c.value(Field::kBlockSize), 1024, 32768)) {
    flag(fmt::format("database block size {} is not a power of two from 1024 to 32768",
                     c.value(Field::kBlockSize)));
  }
  if (!IsPowerOfTwoIn(c.value(Field::kWalBlockSize), 1024, 65536)) {
    flag(fmt::format("WAL block size {} is not a power of two from 1024 to 65536",
                     c.value(Field::kWalBlockSize)));
  }
  if (!IsValidWalSegmentSize(c.value(Field::kWalSegmentSize))) {
    flag(fmt::format("WAL segment size {} is not a power of two from 1 MB to 1 GB",
                     c.value(Field::kWalSegmentSize)));
  }
  if (c.value(Field::kMaxAlign) != 4 && c.value(Field::kMaxAlign) != 8) {
    flag(fmt::format("maximum data alignment {} is neither 4 nor 8", c.value(Field::kMaxAlign)));
  }
  if (c.value(Field::kFloatFormat) != std::bit_cast<uint64_t>(1234567.0)) {
    flag("the floating-point format check value is not 1234567.0: the file comes from a machine "
         "with another float format, or another layout");
  }
  if (c.value(Field::kThisTimeLineId) == 0) flag("the checkpoint's timeline is 0; timelines start at 1");
  if (c.value(Field::kRedo) > c.value(Field::kCheckPoint)) {
    flag(fmt::format("the checkpoint's REDO location {} is after the checkpoint itself {}",
                     FormatLsn({c.value(Field::kRedo)}), FormatLsn({c.value(Field::kCheckPoint)})));
  }
  if (c.value(Field::kDataChecksumVersion) > 1) {
    flag(fmt::format("data page checksum version {} is unknown (0 = off, 1 = on)",
                     c.value(Field::kDataChecksumVersion)));
  }
  for (Field f : {Field::kRelSegSize, Field::kNameDataLen, Field::kIndexMaxKeys,
                  Field::kToastMaxChunkSize, Field::kLargeObjectChunkSize, Field::kSlruPagesPerSegment}) {
    if (c.has(f) && c.value(f) == 0) flag(fmt::format("{} is 0", FieldName(f)));
  }
  return out;
}

}  // namespace pgrescue
