// Any text as a timeline's .history file (after a 4-byte timeline number):
// never crashes, and what parses is a history the WAL file set can follow:
// parents strictly ascending and below the timeline, each span beginning
// where the one before ended, ending with the timeline itself, open. Seeds:
// the 00000002 and 00000003.history a real 17 wrote at two archive
// recoveries' ends.
#include <cstdlib>
#include <string>

#include "libcontrol/base/bytes.h"
#include "libcontrol/wal/wal_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint32_t timeline = pgrescue::Le32(data);
  const std::string text(reinterpret_cast<const char*>(data + 4), size - 4);
  const auto spans = pgrescue::ParseTimelineHistory(text, timeline);
  if (!spans.ok()) {
    if (spans.error().message.empty()) std::abort();
    return 0;
  }
  if (spans->empty()) std::abort();
  const auto& last = spans->back();
  if (last.timeline != timeline || last.end.value != 0) std::abort();
  pgrescue::Lsn begin{0};
  for (size_t i = 0; i < spans->size(); ++i) {
    const auto& s = (*spans)[i];
    if (s.begin != begin) std::abort();
    if (i + 1 < spans->size()) {
      if (s.timeline >= (*spans)[i + 1].timeline || s.end < s.begin) std::abort();
      begin = s.end;
    }
  }
  return 0;
}
