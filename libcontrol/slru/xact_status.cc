#include "libcontrol/slru/xact_status.h"

#include "libcontrol/base/bytes.h"
#include "libcontrol/base/file_bytes.h"
#include "libcontrol/control/control_layout.h"

namespace pgrescue {

XactStatusReader::XactStatusReader(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size)
    : dir_(data_dir + "/" + std::string(layout.xact_dir())), slru_(SlruKind::kXact, layout, block_size) {}

std::optional<XactStatus> XactStatusReader::Status(uint32_t xid) {
  const uint64_t segment = slru_.SegmentOf(xid);
  auto it = segments_.find(segment);
  if (it == segments_.end()) {
    std::vector<uint8_t> bytes;
    (void)AppendFileBytes(dir_ + "/" + slru_.FileName(segment), &bytes);  // absent: no answers from it
    it = segments_.emplace(segment, std::move(bytes)).first;
  }
  const uint64_t at = (xid - slru_.FirstIdOf(segment)) / 4;
  if (at >= it->second.size()) return std::nullopt;
  return static_cast<XactStatus>((it->second[at] >> (xid % 4 * 2)) & 3);
}

CommitTsReader::CommitTsReader(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size)
    : dir_(data_dir + "/pg_commit_ts"), slru_(SlruKind::kCommitTs, layout, block_size), block_size_(block_size) {}

std::optional<int64_t> CommitTsReader::Timestamp(uint32_t xid) {
  constexpr uint64_t kEntrySize = 10;
  const uint64_t segment = slru_.SegmentOf(xid);
  auto it = segments_.find(segment);
  if (it == segments_.end()) {
    std::vector<uint8_t> bytes;
    (void)AppendFileBytes(dir_ + "/" + slru_.FileName(segment), &bytes);
    it = segments_.emplace(segment, std::move(bytes)).first;
  }
  const uint64_t index = xid - slru_.FirstIdOf(segment);
  const uint64_t page = index / slru_.entries_per_page();
  const uint64_t at = page * block_size_ + index % slru_.entries_per_page() * kEntrySize;
  if ((page + 1) * block_size_ > it->second.size()) return std::nullopt;
  return static_cast<int64_t>(LoadLittleEndian(it->second.data() + at, 8));
}

}  // namespace pgrescue
