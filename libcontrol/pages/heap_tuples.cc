#include "libcontrol/pages/heap_tuples.h"

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/base/file_bytes.h"
#include "libcontrol/pages/heap_format.h"
#include "libcontrol/pages/page_check.h"

namespace pgrescue {
using namespace heap;  // NOLINT: the format's constants, kept in heap_format.h

bool HeapTuple::inserted_not_aborted() const {
  // Both bits set is "frozen".
  return (infomask & kXminInvalid) == 0 || (infomask & kXminCommitted) != 0;
}

bool HeapTuple::xmin_committed() const { return (infomask & kXminCommitted) != 0; }
bool HeapTuple::xmin_aborted() const { return (infomask & kXminInvalid) != 0; }
bool HeapTuple::xmax_is_multixact() const { return (infomask & kXmaxIsMulti) != 0; }

bool HeapTuple::xmax_lock_only() const {
  // Before 9.3 an exclusive lock alone, not a MultiXact, marked a locker.
  return (infomask & kXmaxLockOnly) != 0 ||
         (infomask & (kXmaxIsMulti | kXmaxKeyShareLock | kXmaxExclusiveLock)) == kXmaxExclusiveLock;
}

bool HeapTuple::not_deleted() const { return xmax == 0 || (infomask & (kXmaxInvalid | kXmaxLockOnly)) != 0; }

uint64_t ForEachHeapTuple(std::span<const uint8_t> bytes, uint32_t block_size,
                          const std::function<void(const HeapTuple&)>& each) {
  uint64_t skipped = 0;
  for (size_t at = 0; at + block_size <= bytes.size(); at += block_size) {
    const auto page = bytes.subspan(at, block_size);
    const PageVerdict v = CheckPage(page, 0, false);
    if (v.kind == PageKind::kValid) ForEachTupleOnPage(page, each);
    else skipped += v.kind == PageKind::kInvalid ? 1 : 0;
  }
  return skipped;
}

Result<std::vector<uint8_t>> ReadRelation(const std::string& path) {
  std::vector<uint8_t> out;
  for (int segment = 0;; ++segment) {
    const std::string file = segment == 0 ? path : fmt::format("{}.{}", path, segment);
    // At most a segment (1 GiB at the default segment size): a longer file
    // stops the server with "segment too big", and a sparse 8 GB one would
    // fill memory.
    if (!AppendFileBytes(file, &out, uint64_t{1} << 30)) {
      if (segment == 0) return MakeError(ErrorCode::kIo, "cannot open", file);
      return out;
    }
  }
}

}  // namespace pgrescue
