#include "libcontrol/wal/wal_record.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/base/crc.h"
#include "libcontrol/base/file_bytes.h"
#include "libcontrol/base/wal_names.h"

namespace pgrescue {

std::optional<WalLongPageHeader> ReadWalLongPageHeader(const std::string& path, const ControlLayout& layout) {
  const auto head = ReadFileHead(path, kWalLongPageHeaderSize);
  if (!head || head->bytes.size() < kWalLongPageHeaderSize) return std::nullopt;
  const uint8_t* h = head->bytes.data();
  const auto magics = layout.wal_page_magics();
  if (std::find(magics.begin(), magics.end(), Le16(h)) == magics.end() || !(Le16(h + 2) & kXlpLongHeader) ||
      !IsValidWalSegmentSize(Le32(h + 32))) {
    return std::nullopt;
  }
  return WalLongPageHeader{Le16(h), Le64(h + 24), Le32(h + 32), Le32(h + 36)};
}

std::optional<WalHeaderFound> NewestWalLongPageHeader(const std::vector<const DirListing*>& listings,
                                                     const ControlLayout& layout) {
  // Newest first (log/seg, then timeline), stopping at the first header:
  // pg_wal can hold 100,000 segments, and most are read not at all.
  struct Candidate {
    const DirListing* listing;
    std::string_view name;
  };
  std::vector<Candidate> candidates;
  for (const auto* l : listings) {
    for (const auto& e : l->entries) {
      if (e.name.size() < 24 || e.is_dir) continue;
      candidates.push_back({l, e.name});
    }
  }
  auto newer = [](const Candidate& a, const Candidate& b) {
    const auto a_pos = a.name.substr(8, 16), b_pos = b.name.substr(8, 16);
    if (a_pos != b_pos) return a_pos > b_pos;
    return a.name.substr(0, 8) > b.name.substr(0, 8);
  };
  std::stable_sort(candidates.begin(), candidates.end(), newer);
  for (const auto& c : candidates) {
    const std::string path = c.listing->path + "/" + std::string(c.name);
    if (auto header = ReadWalLongPageHeader(path, layout)) return WalHeaderFound{*header, path};
  }
  return std::nullopt;
}

uint32_t WalRecordCrc(CrcKind kind, std::span<const uint8_t> record) {
  if (kind == CrcKind::kLegacyCrc32) {
    return LegacyCrc32Extend(LegacyCrc32(record.subspan(32)), record.first(24));
  }
  return Crc32cExtend(Crc32c(record.subspan(24)), record.first(20));
}

Result<std::vector<uint8_t>> BuildResetWalPage(const ControlFile& control, uint64_t segment_size,
                                               uint16_t magic) {
  const ControlLayout& l = control.layout();
  auto bytes = SerializeControlFile(control);
  if (!bytes) return bytes.error();
  const std::span<const uint8_t> checkpoint(bytes->data() + l.checkpoint_offset(), l.checkpoint_size());
  const uint64_t page_size = control.value(Field::kWalBlockSize);
  if (page_size < 1024 || page_size > 65536) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("WAL block size {} is not usable", page_size));
  }
  std::vector<uint8_t> page(page_size, 0);
  const uint64_t redo = control.value(Field::kRedo);
  StoreLittleEndian(page.data() + 0, 2, magic);
  StoreLittleEndian(page.data() + 2, 2, kXlpLongHeader);
  StoreLittleEndian(page.data() + 4, 4, control.value(Field::kThisTimeLineId));
  StoreLittleEndian(page.data() + 8, 8, redo - kWalLongPageHeaderSize);
  StoreLittleEndian(page.data() + 24, 8, control.value(Field::kSystemIdentifier));
  StoreLittleEndian(page.data() + 32, 4, segment_size);
  StoreLittleEndian(page.data() + 36, 4, page_size);

  const size_t rec = kWalLongPageHeaderSize;
  size_t length;
  if (l.crc_kind() == CrcKind::kLegacyCrc32) {
    // 9.4: 32-byte header with xl_len; the CheckPoint follows at +32.
    length = 32 + checkpoint.size();
    StoreLittleEndian(page.data() + rec + 0, 4, length);
    StoreLittleEndian(page.data() + rec + 8, 4, checkpoint.size());
    std::memcpy(page.data() + rec + 32, checkpoint.data(), checkpoint.size());
  } else {
    // 9.5 on: 24-byte header, then a short main-data header and the CheckPoint.
    length = 24 + 2 + checkpoint.size();
    StoreLittleEndian(page.data() + rec + 0, 4, length);
    page[rec + 24] = kXlrBlockIdDataShort;
    page[rec + 25] = static_cast<uint8_t>(checkpoint.size());
    std::memcpy(page.data() + rec + 26, checkpoint.data(), checkpoint.size());
  }
  // xl_xid, xl_prev, xl_info (XLOG_CHECKPOINT_SHUTDOWN) and xl_rmid (XLOG) are 0.
  const std::span<const uint8_t> record(page.data() + rec, length);
  const size_t crc_at = l.crc_kind() == CrcKind::kLegacyCrc32 ? 24 : 20;
  StoreLittleEndian(page.data() + rec + crc_at, 4, WalRecordCrc(l.crc_kind(), record));
  return page;
}

}  // namespace pgrescue
