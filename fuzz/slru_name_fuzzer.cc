// Any text as a file name in pg_xact, pg_multixact or pg_commit_ts, for
// every version's SLRU geometry: never crashes, and a name that parses is
// exactly the name that segment is written under, within the numbering.
// Seeds: names from the fixtures' listings (4 digits; 19's 15-digit members).
#include <cstdlib>
#include <string>

#include "libcontrol/control/control_layout.h"
#include "libcontrol/slru/slru.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string name(reinterpret_cast<const char*>(data), size);
  for (const auto& layout : pgrescue::AllControlLayouts()) {
    for (auto kind : {pgrescue::SlruKind::kXact, pgrescue::SlruKind::kMultiXactOffsets,
                      pgrescue::SlruKind::kMultiXactMembers, pgrescue::SlruKind::kCommitTs}) {
      for (uint32_t block_size : {1024u, 8192u, 32768u}) {
        const pgrescue::SlruLayout slru(kind, layout, block_size);
        const auto segment = slru.ParseFileName(name);
        if (!segment) continue;
        if (slru.FileName(*segment) != name) std::abort();
        if (slru.segment_count() && *segment >= *slru.segment_count()) std::abort();
      }
    }
  }
  return 0;
}
