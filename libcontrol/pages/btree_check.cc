#include "libcontrol/pages/btree_check.h"

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"

namespace pgrescue {
namespace {

// BTPageOpaqueData: btpo_prev, btpo_next, btpo_level (btpo union before
// 14), btpo_flags, btpo_cycleid; the same 16 bytes in every version.
constexpr size_t kSpecialSize = 16;
constexpr size_t kFlagsAt = 12;           // within the special space
constexpr uint16_t kMetaFlag = 0x0008;    // BTP_META
constexpr uint16_t kKnownFlags = 0x01FF;  // BTP_LEAF .. BTP_HAS_FULLXID (14)
constexpr uint32_t kMagic = 0x053162;     // BTREE_MAGIC, at the start of the metapage's contents
constexpr size_t kMetaAt = 24;
constexpr uint32_t kMinVersion = 2, kMaxVersion = 4;  // BTREE_MIN_VERSION .. BTREE_VERSION (13)

}  // namespace

std::string CheckBtreePage(std::span<const uint8_t> page, uint64_t block) {
  const size_t special = Le16(page.data() + 16);
  if (page.size() - special != kSpecialSize) {
    return fmt::format("index contains corrupted page at block {}: special space is {} bytes, a btree page's is {}",
                       block, page.size() - special, kSpecialSize);
  }
  const uint16_t flags = Le16(page.data() + special + kFlagsAt);
  if ((flags & ~kKnownFlags) != 0) return fmt::format("btree page flags 0x{:04X} include unknown bits", flags);
  if (block != 0) {
    if ((flags & kMetaFlag) != 0) return fmt::format("invalid meta page found at block {} in index", block);
    return "";
  }
  const uint32_t magic = Le32(page.data() + kMetaAt), version = Le32(page.data() + kMetaAt + 4);
  if ((flags & kMetaFlag) == 0 || magic != kMagic) {
    return fmt::format("index is not a btree: block 0 has flags 0x{:04X} and magic 0x{:06X}, a metapage has 0x{:04X} "
                       "and 0x{:06X}",
                       flags, magic, kMetaFlag, kMagic);
  }
  if (version < kMinVersion || version > kMaxVersion) {
    return fmt::format("version mismatch in index: file version {}, PostgreSQL writes {} to {}", version, kMinVersion,
                       kMaxVersion);
  }
  return "";
}

}  // namespace pgrescue
