// Any list of names as pg_wal, read for each segment size: never crashes;
// the segments found ascend, each one a file of the listing whose name gives
// that segment; on timeline 1 every segment or .partial file of timeline 1
// is found, a complete file chosen over a .partial one. The directory does
// not exist, so a history file the newest timeline needs cannot be read:
// following histories is the timeline_history target's part.
// Seeds: the fixtures' pg_wal listings (listing.txt) and WAL names of the tests.
#include <cstdlib>
#include <map>
#include <optional>

#include "fuzz/listing_input.h"
#include "libcontrol/base/wal_names.h"
#include "libcontrol/wal/wal_files.h"

namespace {

void Check(const pgrescue::DirListing& listing, uint64_t segment_size, std::optional<uint32_t> timeline) {
  auto files = pgrescue::WalFiles::FromListings({&listing}, segment_size, timeline);
  if (!files.ok()) return;
  // Timeline 1's files by segment: whether a complete one is among them.
  std::map<uint64_t, bool> expected;
  for (const auto& e : listing.entries) {
    const auto name = pgrescue::ClassifyWalFileName(e.name, segment_size);
    if (e.is_dir || name.timeline != 1 ||
        (name.kind != pgrescue::WalFileKind::kSegment && name.kind != pgrescue::WalFileKind::kPartial)) {
      continue;
    }
    expected[*name.segment_number] |= name.kind == pgrescue::WalFileKind::kSegment;
  }
  const auto segments = files->SegmentNumbers();
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0 && segments[i] <= segments[i - 1]) std::abort();
    const pgrescue::WalFile* file = files->Find(segments[i]);
    if (file == nullptr || !pgrescue::Contains(listing, file->name())) std::abort();
    const auto name = pgrescue::ClassifyWalFileName(file->name(), segment_size);
    if (name.segment_number != segments[i] || name.timeline != file->timeline ||
        file->partial != (name.kind == pgrescue::WalFileKind::kPartial) || file->timeline > files->timeline()) {
      std::abort();
    }
    if (files->timeline() != 1) continue;
    const auto it = expected.find(segments[i]);
    // A .partial chosen although a complete file exists, or the reverse.
    if (it == expected.end() || file->partial == it->second) std::abort();
  }
  if (files->timeline() == 1 && segments.size() != expected.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto listing = pgrescue_fuzz::ListingFromInput(data, size, "/nonexistent/pg_wal");
  for (uint64_t segment_size : {uint64_t{16} << 20, uint64_t{1} << 20, uint64_t{1} << 30}) {
    Check(listing, segment_size, std::nullopt);
    Check(listing, segment_size, 1);
  }
  return 0;
}
