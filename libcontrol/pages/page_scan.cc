#include "libcontrol/pages/page_scan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/base/id_order.h"
#include "libcontrol/pages/btree_check.h"
#include "libcontrol/pages/heap_tuples.h"

namespace pgrescue {
namespace {

constexpr size_t kReadSize = size_t{1} << 20;
// A range of one file, the unit of work; `end` 0 means to the end of the
// file, whatever its size is by then.
struct Part {
  size_t file;
  uint64_t begin, end;
};

// What one part's read found; merged in walk order afterwards, so that the
// report does not depend on which thread read which part.
struct FileResult {
  bool opened = false;
  uint64_t blocks = 0, zero = 0, bytes = 0;
  std::optional<std::pair<Lsn, uint64_t>> max;  // LSN, block
  std::vector<DamagedBlock> damaged;
  std::vector<TupleFinding> tuple_problems;
  std::vector<TupleProblem> page_problems;  // scratch, reused page after page
  std::vector<FileFinding> findings;
  TupleEvidence tuples;  // newest_*_where unset: the blocks are below
  XidTupleEvidence xids;
  TupleShapes shapes;
  uint64_t newest_xid_block = 0, newest_multixact_block = 0;
};

constexpr uint32_t kFirstNormalXidOnPage = 3;

// Keeps the newer of two IDs in the circular order; `where` follows it.
template <typename Where>
void Newer(uint32_t id, const Where& here, std::optional<uint32_t>* newest, Where* where) {
  if (!*newest || Precedes32(**newest, id)) {
    *newest = id;
    *where = here;
  }
}

// A heap page as the server lays one out: no special space. Index pages
// have one; free space and visibility map pages have no line pointers.
void ReadTuples(const PageScanOptions& o, std::span<const uint8_t> page, uint64_t block, FileResult* r) {
  if (Le16(page.data() + 16) != page.size()) return;
  TupleEvidence* e = &r->tuples;
  r->page_problems.clear();
  const bool all_visible = (Le16(page.data() + heap::kPdFlagsAt) & heap::kPdAllVisible) != 0;
  CheckHeapPage(page, o.limits, &r->page_problems, [&](const HeapTuple& t) {
    if (o.collect_xids) r->xids.Add(t, all_visible, &r->shapes);
    ++e->tuples;
    if (t.xmin_frozen()) ++e->xmin_frozen;
    else if (t.xmin_committed()) ++e->xmin_committed;
    else if (t.xmin_aborted()) ++e->xmin_aborted;
    else ++e->xmin_unhinted;
    if (!t.xmin_frozen() && t.xmin >= kFirstNormalXidOnPage) {
      Newer(t.xmin, block, &e->newest_xid, &r->newest_xid_block);
      if (!t.xmin_committed() && !t.xmin_aborted()) e->AddXid(t.xmin);
    }
    if (t.xmax == 0) return;
    if (t.xmax_is_multixact()) Newer(t.xmax, block, &e->newest_multixact, &r->newest_multixact_block);
    else if (t.xmax >= kFirstNormalXidOnPage) {
      Newer(t.xmax, block, &e->newest_xid, &r->newest_xid_block);
      if (!(t.infomask & (heap::kXmaxCommitted | heap::kXmaxInvalid))) e->AddXid(t.xmax);
    }
  });
  for (TupleProblem& p : r->page_problems) r->tuple_problems.push_back({0, block, p.offset, std::move(p.message)});
}

class Progress {
 public:
  Progress(const PageScanOptions& o, uint64_t total) : callback_(o.progress), total_(total) {}
  void Add(uint64_t bytes) {
    if (!callback_) return;
    std::lock_guard lock(mutex_);
    done_ += bytes;
    callback_(done_, std::max(done_, total_));
  }

 private:
  const std::function<void(uint64_t, uint64_t)>& callback_;
  std::mutex mutex_;
  uint64_t done_ = 0;
  const uint64_t total_;
};

void JudgePage(const PageScanOptions& o, std::span<const uint8_t> page, uint64_t block, RelationFormat format,
               FileResult* r) {
  ++r->blocks;
  // BlockNumber is 32 bits; the server's checksum wraps the same way.
  const PageVerdict v = CheckPage(page, static_cast<uint32_t>(block), o.checksums);
  if (v.kind == PageKind::kNew) {
    ++r->zero;
  } else if (v.kind == PageKind::kInvalid) {
    DamagedBlock d{0, block, ProblemOf(v), std::nullopt, std::nullopt, DescribeInvalidPage(page, v), std::nullopt};
    if (v.checksum_checked) {
      d.checksum_stored = v.checksum_stored;
      d.checksum_computed = v.checksum_computed;
    }
    if (format == RelationFormat::kHeap) d.rows = RowsByLinePointers(page);
    r->damaged.push_back(std::move(d));
  } else {
    if (!r->max || v.lsn > r->max->first) r->max = std::make_pair(v.lsn, block);
    if (format == RelationFormat::kHeap || format == RelationFormat::kUnknown) ReadTuples(o, page, block, r);
    if (format == RelationFormat::kBtree) {
      if (std::string why = CheckBtreePage(page, block); !why.empty()) {
        r->damaged.push_back({0, block, PageProblem::kBtree, std::nullopt, std::nullopt, std::move(why), std::nullopt});
      }
    }
  }
}

// Large preads into one buffer; a short read leaves a partial block at the
// front of the buffer for the next read to complete.
void ScanPart(const PageScanOptions& o, const RelationFile& f, const Part& part, std::vector<uint8_t>* buffer,
              Progress* progress, FileResult* r) {
  const int fd = open((o.data_dir + "/" + f.rel).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (part.begin == 0) {
      r->findings.push_back(
          {f.rel, FileProblem::kUnreadable, fmt::format("{}: cannot open: {}", f.rel, std::strerror(errno))});
    }
    return;
  }
  r->opened = part.begin == 0;
  // Forks other than main hold no tuples: free space and visibility maps.
  const RelationFormat format = f.fork != "main" ? RelationFormat::kOther
                                : o.format_of   ? o.format_of(f)
                                                : RelationFormat::kUnknown;
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  const size_t bs = o.block_size;
  uint64_t block = f.segment * o.blocks_per_segment + part.begin / bs;
  uint64_t offset = part.begin;
  size_t have = 0;
  for (;;) {
    size_t want = buffer->size() - have;
    if (part.end != 0) want = static_cast<size_t>(std::min<uint64_t>(want, part.end - offset));
    const ssize_t n = want == 0 ? 0 : pread(fd, buffer->data() + have, want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0) {
        r->findings.push_back({f.rel, FileProblem::kUnreadable,
                               fmt::format("{}: read failed at byte {}: {}", f.rel, offset, std::strerror(errno))});
      } else if (have > 0) {
        r->findings.push_back({f.rel, FileProblem::kPartialBlock,
                               fmt::format("{}: {} bytes is not a multiple of the block size {}; the last {} bytes "
                                           "are not a page",
                                           f.rel, offset, bs, have)});
      }
      break;
    }
    offset += static_cast<uint64_t>(n);
    r->bytes += static_cast<uint64_t>(n);
    have += static_cast<size_t>(n);
    size_t at = 0;
    for (; have - at >= bs; at += bs, ++block) {
      JudgePage(o, std::span(buffer->data() + at, bs), block, format, r);
    }
    std::memmove(buffer->data(), buffer->data() + at, have - at);
    have -= at;
    progress->Add(static_cast<uint64_t>(n));
  }
  close(fd);
}

// The files cut into parts, in walk order; the last part of each file runs
// to its end.
std::vector<Part> CutIntoParts(const std::vector<RelationFile>& files, uint64_t part_bytes) {
  std::vector<Part> parts;
  for (size_t i = 0; i < files.size(); ++i) {
    uint64_t at = 0;
    for (; files[i].size > at + part_bytes; at += part_bytes) parts.push_back({i, at, at + part_bytes});
    // To the size listed, which a long segment's was cut to (relation_files.h).
    parts.push_back({i, at, files[i].size});
  }
  return parts;
}

// Each thread takes the next unread part; results land by part index.
std::vector<FileResult> ScanParts(const PageScanOptions& o, const std::vector<RelationFile>& files,
                                  const std::vector<Part>& parts) {
  uint64_t total = 0;
  for (const RelationFile& f : files) total += f.size;
  Progress progress(o, total);
  std::vector<FileResult> results(parts.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    std::vector<uint8_t> buffer(std::max<size_t>(kReadSize, o.block_size));
    for (size_t i; (i = next.fetch_add(1)) < parts.size();) {
      ScanPart(o, files[parts[i].file], parts[i], &buffer, &progress, &results[i]);
    }
  };
  const size_t threads = std::clamp<size_t>(o.jobs, 1, std::max<size_t>(parts.size(), 1));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  return results;
}

void MergeTuples(const FileResult& r, const std::string& file, TupleEvidence* all) {
  const TupleEvidence& part = r.tuples;
  all->tuples += part.tuples;
  all->xmin_committed += part.xmin_committed;
  all->xmin_aborted += part.xmin_aborted;
  all->xmin_frozen += part.xmin_frozen;
  all->xmin_unhinted += part.xmin_unhinted;
  for (const auto& [key, span] : part.xid_spans) {
    all->AddXid(span.first);
    all->AddXid(span.second);
  }
  if (part.newest_xid) {
    Newer(*part.newest_xid, fmt::format("{} block {}", file, r.newest_xid_block), &all->newest_xid,
          &all->newest_xid_where);
  }
  if (part.newest_multixact) {
    Newer(*part.newest_multixact, fmt::format("{} block {}", file, r.newest_multixact_block), &all->newest_multixact,
          &all->newest_multixact_where);
  }
}

}  // namespace

void TupleEvidence::AddXid(uint32_t xid) {
  auto [it, added] = xid_spans.try_emplace(xid >> 20, xid, xid);
  if (added) return;
  it->second.first = std::min(it->second.first, xid);
  it->second.second = std::max(it->second.second, xid);
}

std::vector<std::string> PageScanReport::DamagedExamples(size_t limit) const {
  std::vector<std::string> out;
  for (size_t i = 0; i < damaged.size() && i < limit; ++i) {
    out.push_back(fmt::format("{} block {}: {}", scanned[damaged[i].file].file.rel, damaged[i].block,
                              damaged[i].message));
  }
  return out;
}

std::vector<std::string> PageScanReport::StructuralMessages() const {
  std::vector<std::string> out;
  for (const auto& f : structural) out.push_back(f.message);
  return out;
}

PageScanOptions PageScanOptionsFor(const DataDir& dir, const ControlFile* trusted) {
  PageScanOptions o;
  o.data_dir = dir.root;
  if (trusted != nullptr) {
    o.block_size = static_cast<uint32_t>(trusted->value(Field::kBlockSize));
    o.checksums = trusted->value(Field::kDataChecksumVersion) != 0;
    o.blocks_per_segment = trusted->value(Field::kRelSegSize);
  } else {
    o.block_size = BlockSizeFromRelation(dir).value_or(o.block_size);
    o.blocks_per_segment = (uint64_t{1} << 30) / o.block_size;
  }
  return o;
}

Result<PageScanReport> ScanPageLsns(const PageScanOptions& options) {
  const uint32_t bs = options.block_size;
  if (bs < 1024 || bs > 32768 || (bs & (bs - 1)) != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("block size {} is not a power of two from 1024 to 32768", bs));
  }
  if (options.blocks_per_segment == 0 || options.part_blocks == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "blocks per segment and per part must be at least 1");
  }
  struct stat st {};
  if (stat(options.data_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return MakeError(ErrorCode::kIo, "does not exist or is not a directory", options.data_dir);
  }
  RelationFiles found = FindRelationFiles(options.data_dir, bs, options.blocks_per_segment);
  if (options.include) {
    std::erase_if(found.files, [&](const RelationFile& f) { return !options.include(f); });
    std::erase_if(found.findings, [&](const FileFinding& f) {
      return !options.include(RelationFile{f.file, RelationOfFile(f.file), "main", 0, 0});
    });
  }
  const std::vector<Part> parts = CutIntoParts(found.files, options.part_blocks * bs);
  std::vector<FileResult> results = ScanParts(options, found.files, parts);
  PageScanReport report;
  report.structural = std::move(found.findings);
  for (RelationFile& f : found.files) report.scanned.push_back({std::move(f), 0, 0});
  for (size_t i = 0; i < results.size(); ++i) {
    FileResult& r = results[i];
    const size_t file = parts[i].file;
    ScannedFile& scanned = report.scanned[file];
    scanned.blocks += r.blocks;
    scanned.damaged += r.damaged.size();
    report.files += r.opened ? 1 : 0;
    report.pages += r.blocks;
    report.zero_pages += r.zero;
    report.bytes += r.bytes;
    report.invalid_pages += r.damaged.size();
    if (r.max && (!report.max || r.max->first > report.max->lsn)) {
      report.max = PageLsnMax{r.max->first, scanned.file.rel, r.max->second};
    }
    for (auto& d : r.damaged) {
      d.file = file;
      report.damaged.push_back(std::move(d));
    }
    for (auto& t : r.tuple_problems) {
      t.file = file;
      report.tuple_problems.push_back(std::move(t));
    }
    for (auto& f : r.findings) report.structural.push_back(std::move(f));
    MergeTuples(r, scanned.file.rel, &report.tuples);
    if (options.collect_xids) {
      report.xids.Merge(r.xids);
      auto& shapes = report.shapes[scanned.file.relation];
      for (const auto& [shape, n] : r.shapes) shapes[shape] += n;
    }
  }
  return report;
}

}  // namespace pgrescue
