// Any text as a WAL file name or an LSN: never crashes, and what classifies
// as a segment prints back to the same name.
#include <cstdlib>
#include <string>

#include "libcontrol/base/lsn.h"
#include "libcontrol/base/wal_names.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto lsn = pgrescue::ParseLsn(text); lsn.ok()) {
    auto again = pgrescue::ParseLsn(pgrescue::FormatLsn(*lsn));
    if (!again.ok() || again->value != lsn->value) std::abort();
  }
  for (uint64_t seg = pgrescue::kMinWalSegmentSize; seg <= pgrescue::kMaxWalSegmentSize; seg <<= 3) {
    const auto name = pgrescue::ClassifyWalFileName(text, seg);
    if (name.kind == pgrescue::WalFileKind::kSegment &&
        pgrescue::WalSegmentName{name.timeline, *name.segment_number}.ToString(seg) != text) {
      std::abort();
    }
  }
  return 0;
}
