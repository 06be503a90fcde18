#include "libcontrol/slru/slru.h"

#include <fmt/format.h>

#include "libcontrol/control/control_layout.h"

namespace pgrescue {

std::string_view SlruKindName(SlruKind kind) {
  switch (kind) {
    case SlruKind::kXact: return "transaction status";
    case SlruKind::kMultiXactOffsets: return "multixact offsets";
    case SlruKind::kMultiXactMembers: return "multixact members";
    case SlruKind::kCommitTs: return "commit timestamps";
  }
  return "?";
}

SlruLayout::SlruLayout(SlruKind kind, const ControlLayout& layout, uint32_t block_size)
    : kind_(kind), id_space_(uint64_t{1} << 32) {
  // 19 widened MultiXactOffset to 64 bits: offsets entries double in size and
  // members are numbered in a 64-bit space with 15-digit file names.
  const bool wide_offsets = layout.Has(Field::kSlruPagesPerSegment);
  switch (kind) {
    case SlruKind::kXact:
      entries_per_page_ = uint64_t{block_size} * 4;
      break;
    case SlruKind::kMultiXactOffsets:
      entries_per_page_ = block_size / (wide_offsets ? 8 : 4);
      break;
    case SlruKind::kMultiXactMembers:
      entries_per_page_ = block_size / 20 * 4;
      if (wide_offsets) {
        id_space_.reset();
        long_names_ = true;
      }
      break;
    case SlruKind::kCommitTs:
      entries_per_page_ = block_size / 10;
      break;
  }
  if (id_space_) {
    // The last page may be partial: IDs up to 2^32-1 still map to a page.
    const uint64_t pages = (*id_space_ - 1) / entries_per_page_ + 1;
    segment_count_ = (pages - 1) / pages_per_segment_ + 1;
  }
}

std::string SlruLayout::FileName(uint64_t segment) const {
  return long_names_ ? fmt::format("{:015X}", segment) : fmt::format("{:04X}", segment);
}

std::optional<uint64_t> SlruLayout::ParseFileName(std::string_view name) const {
  const bool length_ok = long_names_ ? name.size() == 15 : name.size() >= 4 && name.size() <= 6;
  if (!length_ok) return std::nullopt;
  uint64_t v = 0;
  for (char c : name) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return std::nullopt;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  if (segment_count_ && v >= *segment_count_) return std::nullopt;
  // A short name has no superfluous leading zero beyond four digits.
  if (!long_names_ && FileName(v) != name) return std::nullopt;
  return v;
}

}  // namespace pgrescue
