#include "libcontrol/wal/wal_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "libcontrol/base/file_bytes.h"
#include "libcontrol/base/wal_names.h"

namespace pgrescue {
namespace {

// Reads up to `size` bytes at offset 0; the rest stays as it was (zeros).
bool ReadPrefix(const std::string& path, uint8_t* out, size_t size) {
  const int fd = OpenRegularFile(path);
  if (fd < 0) return false;
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pread(fd, out + done, size - done, static_cast<off_t>(done));
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  return true;
}

// A timeline's history is a line per switch.
std::optional<std::string> ReadText(const std::string& path) { return ReadSmallText(path, 1 << 20); }

}  // namespace

Result<std::vector<TimelineSpan>> ParseTimelineHistory(const std::string& text, uint32_t timeline) {
  std::vector<TimelineSpan> spans;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  Lsn begin{0};
  while (std::getline(lines, line)) {
    ++number;
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    unsigned parent = 0, hi = 0, lo = 0;
    if (sscanf(line.c_str() + first, "%u %X/%X", &parent, &hi, &lo) != 3) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("line {} is not \"timeline<TAB>switch point<TAB>reason\": {}", number, line));
    }
    const Lsn end{static_cast<uint64_t>(hi) << 32 | lo};
    if ((!spans.empty() && parent <= spans.back().timeline) || parent >= timeline || end < begin) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("line {} goes backwards (timeline {} ending at {})", number, parent,
                                   FormatLsn(end)));
    }
    spans.push_back({parent, begin, end});
    begin = end;
  }
  spans.push_back({timeline, begin, Lsn{0}});
  return spans;
}

Result<WalFiles> WalFiles::Open(const std::vector<std::string>& dirs, uint64_t segment_size,
                                std::optional<uint32_t> timeline) {
  std::vector<DirListing> listings;
  for (const auto& dir : dirs) {
    DirListing l;
    l.path = dir;
    if (DIR* d = opendir(dir.c_str())) {
      l.exists = true;
      while (const dirent* e = readdir(d)) l.Add(e->d_name);
      closedir(d);
    }
    listings.push_back(std::move(l));
  }
  std::vector<const DirListing*> pointers;
  for (const auto& l : listings) pointers.push_back(&l);
  auto files = FromListings(pointers, segment_size, timeline);
  // Moving the vector keeps its elements where they are: the WalFile
  // pointers stay valid.
  if (files) files->owned_ = std::move(listings);
  return files;
}

Result<WalFiles> WalFiles::FromListings(const std::vector<const DirListing*>& listings, uint64_t segment_size,
                                        std::optional<uint32_t> timeline) {
  WalFiles files(segment_size);
  std::map<uint32_t, std::string> histories;
  using Found = Numbered;
  std::vector<Found> found;
  size_t total = 0;
  for (const DirListing* l : listings) total += l->entries.size();
  found.reserve(total);
  uint32_t newest = 0;
  for (const DirListing* l : listings) {
    for (const auto& e : l->entries) {
      if (e.is_dir || e.name.size() < 16) continue;
      const auto kind = ClassifyWalFileName(e.name, segment_size);
      if (kind.kind == WalFileKind::kHistory) {
        histories.emplace(kind.timeline, l->path + "/" + std::string(e.name));
      } else if (kind.kind == WalFileKind::kSegment || kind.kind == WalFileKind::kPartial) {
        found.push_back({*kind.segment_number,
                         WalFile{&l->path, e.name.data(), kind.timeline, static_cast<uint8_t>(e.name.size()),
                                 kind.kind == WalFileKind::kPartial}});
        newest = std::max(newest, kind.timeline);
      }
    }
  }
  std::vector<std::string> dirs;
  for (const DirListing* l : listings) dirs.push_back(l->path);
  uint32_t target = timeline.value_or(0);
  if (!timeline) {
    target = newest;
    if (!histories.empty()) target = std::max(target, histories.rbegin()->first);
  }
  if (target == 0) {
    return MakeError(ErrorCode::kNotFound, fmt::format("no WAL segment files in {}", fmt::join(dirs, ", ")));
  }
  files.history_ = {{target, Lsn{0}, Lsn{0}}};
  if (target > 1) {
    const auto it = histories.find(target);
    if (it == histories.end()) {
      return MakeError(ErrorCode::kNotFound,
                       fmt::format("timeline {} has no history file ({:08X}.history): which timelines lead to it "
                                   "is unknown; copy it from the archive or pass --timeline",
                                   target, target));
    }
    auto text = ReadText(it->second);
    if (!text) return MakeError(ErrorCode::kIo, "cannot read " + it->second);
    auto spans = ParseTimelineHistory(*text, target);
    if (!spans) return MakeError(spans.error().code, spans.error().message, it->second);
    files.history_ = std::move(*spans);
  }
  // By segment, newest timeline first; a stable sort keeps the listing order
  // among files of the same segment and timeline. A sorted pg_wal on one
  // timeline is already in that order.
  auto before = [](const Found& a, const Found& b) {
    return a.segno != b.segno ? a.segno < b.segno : a.file.timeline > b.file.timeline;
  };
  if (!std::is_sorted(found.begin(), found.end(), before)) std::stable_sort(found.begin(), found.end(), before);
  // Kept in place: one (segment, timeline) group at a time, a complete
  // segment winning over a .partial one, pg_wal over archives (the first
  // listed), and only timelines whose span reaches the segment.
  size_t kept = 0;
  for (size_t i = 0; i < found.size();) {
    size_t end = i + 1;
    while (end < found.size() && found[end].segno == found[i].segno &&
           found[end].file.timeline == found[i].file.timeline) {
      ++end;
    }
    size_t chosen = i;
    for (size_t k = i; k < end; ++k) {
      if (!found[k].file.partial) {
        chosen = k;
        break;
      }
    }
    i = end;
    const uint64_t segno = found[chosen].segno;
    const uint32_t tli = found[chosen].file.timeline;
    const auto span = std::find_if(files.history_.begin(), files.history_.end(),
                                   [&](const TimelineSpan& s) { return s.timeline == tli; });
    if (span == files.history_.end()) continue;
    const uint64_t first = SegmentNumberOf(span->begin, segment_size);
    const bool open_end = span->end.value == 0;
    if (segno < first || (!open_end && segno > SegmentNumberOf(span->end, segment_size))) continue;
    found[kept++] = found[chosen];
  }
  found.resize(kept);
  files.files_ = std::move(found);
  return files;
}

std::vector<uint64_t> WalFiles::SegmentNumbers() const {
  std::vector<uint64_t> out;
  out.reserve(files_.size());
  for (const auto& f : files_) {
    if (out.empty() || out.back() != f.segno) out.push_back(f.segno);
  }
  return out;
}

const WalFile* WalFiles::Find(uint64_t segment_number) const {
  const auto it = std::lower_bound(files_.begin(), files_.end(), segment_number,
                                   [](const Numbered& f, uint64_t n) { return f.segno < n; });
  return it == files_.end() || it->segno != segment_number ? nullptr : &it->file;
}

WalFiles::WalFiles(WalFiles&& other) noexcept
    : on_segment_read(std::move(other.on_segment_read)),
      segment_size_(other.segment_size_),
      history_(std::move(other.history_)),
      owned_(std::move(other.owned_)),
      files_(std::move(other.files_)),
      newest_slot_(other.newest_slot_),
      segments_read_(other.segments_read_) {
  for (int i = 0; i < 2; ++i) {
    slots_[i] = std::move(other.slots_[i]);
    other.slots_[i].mapped = nullptr;
    other.slots_[i].segment.reset();
  }
}

WalFiles::~WalFiles() {
  for (auto& slot : slots_) Unmap(slot);
}

void WalFiles::Unmap(Slot& slot) {
  if (slot.mapped != nullptr) munmap(slot.mapped, slot.bytes.size());
  slot.mapped = nullptr;
  slot.segment.reset();
  slot.bytes = {};
}

bool WalFiles::Load(const std::string& path, Slot& slot) {
  Unmap(slot);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  if (fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) >= segment_size_) {
    void* p = mmap(nullptr, segment_size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      close(fd);
      madvise(p, segment_size_, MADV_SEQUENTIAL);
      madvise(p, segment_size_, MADV_WILLNEED);  // read ahead when it is not cached
      slot.mapped = p;
      slot.bytes = {static_cast<const uint8_t*>(p), segment_size_};
      return true;
    }
  }
  close(fd);
  slot.buffer.assign(segment_size_, 0);
  if (!ReadPrefix(path, slot.buffer.data(), slot.buffer.size())) return false;
  slot.bytes = slot.buffer;
  return true;
}

std::optional<std::span<const uint8_t>> WalFiles::Segment(uint32_t, uint64_t segment_number) {
  for (int i : {newest_slot_, 1 - newest_slot_}) {
    if (slots_[i].segment == segment_number) return slots_[i].bytes;
  }
  const WalFile* file = Find(segment_number);
  if (file == nullptr) return std::nullopt;
  const int slot = 1 - newest_slot_;
  if (!Load(file->path(), slots_[slot])) return std::nullopt;
  slots_[slot].segment = segment_number;
  newest_slot_ = slot;
  ++segments_read_;
  if (on_segment_read) on_segment_read(segment_number);
  return slots_[slot].bytes;
}

std::optional<std::vector<uint8_t>> WalFiles::Head(uint64_t segment_number, size_t bytes) const {
  const WalFile* file = Find(segment_number);
  if (file == nullptr) return std::nullopt;
  std::vector<uint8_t> head(bytes, 0);
  if (!ReadPrefix(file->path(), head.data(), head.size())) return std::nullopt;
  return head;
}

}  // namespace pgrescue
