#include "libcontrol/catalogs/relation_map.h"

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/base/crc.h"

namespace pgrescue {

size_t RelationMapSize(const VersionRules& rules) {
  return 8 + size_t{rules.relmap_max_mappings} * 8 + 4 + (rules.relmap_has_pad ? 4 : 0);
}

Result<std::vector<RelationMapping>> ParseRelationMap(std::span<const uint8_t> bytes, const VersionRules& rules) {
  const size_t size = RelationMapSize(rules);
  if (bytes.size() != size) {
    return MakeError(ErrorCode::kTruncated,
                     fmt::format("relation mapping file is {} bytes; this version writes {}", bytes.size(), size));
  }
  const uint32_t magic = Le32(bytes.data());
  const int32_t count = static_cast<int32_t>(Le32(bytes.data() + 4));
  if (magic != kRelationMapMagic || count < 0 || static_cast<uint32_t>(count) > rules.relmap_max_mappings) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("relation mapping file contains invalid data (magic 0x{:X}, {} mappings)", magic,
                                 count));
  }
  const size_t crc_at = 8 + size_t{rules.relmap_max_mappings} * 8;
  const uint32_t stored = Le32(bytes.data() + crc_at);
  const uint32_t computed = Crc32c(bytes.first(crc_at));
  if (stored != computed) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("relation mapping file contains incorrect checksum (stored 0x{:08X}, computed "
                                 "0x{:08X})",
                                 stored, computed));
  }
  std::vector<RelationMapping> out;
  for (int32_t i = 0; i < count; ++i) {
    const uint8_t* m = bytes.data() + 8 + static_cast<size_t>(i) * 8;
    out.push_back({Le32(m), Le32(m + 4)});
  }
  return out;
}

}  // namespace pgrescue
