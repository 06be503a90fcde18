#include "libcontrol/slru/xact_status.h"

#include <sys/stat.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/base/file_bytes.h"
#include "libcontrol/control/control_layout.h"

namespace pgrescue {

XactStatusReader::XactStatusReader(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size)
    : dir_(data_dir + "/" + std::string(layout.xact_dir())), slru_(SlruKind::kXact, layout, block_size),
      block_size_(block_size) {}

std::optional<XactStatus> XactStatusReader::Status(uint32_t xid) {
  const uint64_t segment = slru_.SegmentOf(xid);
  auto it = segments_.find(segment);
  if (it == segments_.end()) {
    std::vector<uint8_t> bytes;
    // Absent: no answers from it. Longer than a segment: the rest is no page of it.
    (void)AppendFileBytes(dir_ + "/" + slru_.FileName(segment), &bytes, slru_.pages_per_segment() * block_size_);
    it = segments_.emplace(segment, std::move(bytes)).first;
  }
  const uint64_t index = xid - slru_.FirstIdOf(segment);
  const uint64_t page = index / slru_.entries_per_page();
  if ((page + 1) * block_size_ > it->second.size()) return std::nullopt;
  const uint64_t at = index / 4;
  return static_cast<XactStatus>((it->second[at] >> (xid % 4 * 2)) & 3);
}

bool XactPagesLacking(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size, uint32_t oldest,
                      uint32_t next) {
  const SlruLayout slru(SlruKind::kXact, layout, block_size);
  const std::string dir = data_dir + "/" + std::string(layout.xact_dir());
  const uint32_t last = next - 1;
  const uint64_t first_seg = slru.SegmentOf(oldest), last_seg = slru.SegmentOf(last);
  const uint64_t count = slru.segment_count().value_or(UINT64_MAX);
  for (uint64_t seg = first_seg;; seg = (seg + 1) % count) {
    const uint64_t pages =
        seg == last_seg ? (last - slru.FirstIdOf(seg)) / slru.entries_per_page() + 1 : slru.pages_per_segment();
    struct stat st {};
    const std::string path = dir + "/" + slru.FileName(seg);
    if (stat(path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) < pages * block_size) return true;
    if (seg == last_seg) return false;
  }
}

CommitTsReader::CommitTsReader(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size)
    : dir_(data_dir + "/pg_commit_ts"), slru_(SlruKind::kCommitTs, layout, block_size), block_size_(block_size) {}

std::optional<int64_t> CommitTsReader::Timestamp(uint32_t xid) {
  constexpr uint64_t kEntrySize = 10;
  const uint64_t segment = slru_.SegmentOf(xid);
  auto it = segments_.find(segment);
  if (it == segments_.end()) {
    std::vector<uint8_t> bytes;
    (void)AppendFileBytes(dir_ + "/" + slru_.FileName(segment), &bytes, slru_.pages_per_segment() * block_size_);
    it = segments_.emplace(segment, std::move(bytes)).first;
  }
  const uint64_t index = xid - slru_.FirstIdOf(segment);
  const uint64_t page = index / slru_.entries_per_page();
  const uint64_t at = page * block_size_ + index % slru_.entries_per_page() * kEntrySize;
  if ((page + 1) * block_size_ > it->second.size()) return std::nullopt;
  return static_cast<int64_t>(LoadLittleEndian(it->second.data() + at, 8));
}

}  // namespace pgrescue
