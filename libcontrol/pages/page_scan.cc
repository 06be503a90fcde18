#include "libcontrol/pages/page_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/pages/page_checksum.h"

namespace pgrescue {
namespace {

constexpr size_t kPageHeaderSize = 24;     // through pd_prune_xid
constexpr uint16_t kValidFlagBits = 0x0007;  // has free lines, page full, all visible
constexpr size_t kMaxAlign = 8;             // x86-64 MAXALIGN
constexpr size_t kReadSize = size_t{1} << 20;
constexpr size_t kMaxExamples = 10;

struct Header { uint16_t flags, lower, upper, special; };
Header ReadHeader(const uint8_t* p) { return {Le16(p + 10), Le16(p + 12), Le16(p + 14), Le16(p + 16)}; }

// Leading decimal digits as PostgreSQL writes numbers in file names (no
// leading zero, at most 10 digits), taken off `s`.
std::optional<uint64_t> TakeNumber(std::string_view* s) {
  size_t n = 0;
  uint64_t v = 0;
  for (; n < s->size() && n <= 10 && (*s)[n] >= '0' && (*s)[n] <= '9'; ++n) {
    v = v * 10 + static_cast<uint64_t>((*s)[n] - '0');
  }
  if (n == 0 || n > 10 || (*s)[0] == '0') return std::nullopt;
  s->remove_prefix(n);
  return v;
}

bool IsOid(std::string_view name) { return TakeNumber(&name) && name.empty(); }

// The segment number of a relation file name ("16397", "16397_fsm.2"), or
// nullopt. Temporary relations ("t3_16397"), the relation map, relcache init
// files, PG_VERSION, pg_control and pgsql_tmp* are not relation names, so
// what pg_checksums skips is skipped here by not matching.
std::optional<uint64_t> RelationSegment(std::string_view name) {
  if (!TakeNumber(&name)) return std::nullopt;
  for (std::string_view fork : {"_fsm", "_vm", "_init"}) {
    if (name.starts_with(fork)) {
      name.remove_prefix(fork.size());
      break;
    }
  }
  if (name.empty()) return 0;
  if (!name.starts_with('.')) return std::nullopt;
  name.remove_prefix(1);
  const auto segment = TakeNumber(&name);  // from .1 on: the first segment has no suffix
  return name.empty() ? segment : std::nullopt;
}

struct Entry {
  std::string name;
  mode_t mode;  // from lstat: links are seen as links
  uint64_t size;
};

struct RelFile {
  std::string rel;  // relative to the data directory
  uint64_t segment;
  uint64_t size;
};

struct Walk {
  std::string root;
  PageScanReport* report;
  std::vector<RelFile> files;  // in scan order

  void Note(std::string text) { report->structural.push_back(std::move(text)); }

  std::optional<std::vector<Entry>> List(const std::string& rel) {
    DIR* d = opendir((root + "/" + rel).c_str());
    if (d == nullptr) {
      Note(fmt::format("{}: cannot list: {}", rel, std::strerror(errno)));
      return std::nullopt;
    }
    std::vector<Entry> out;
    while (const dirent* ent = readdir(d)) {
      struct stat st {};
      if (ent->d_name[0] == '.' || fstatat(dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      out.push_back({ent->d_name, st.st_mode, static_cast<uint64_t>(st.st_size)});
    }
    closedir(d);
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return out;
  }

  void RelationDir(const std::string& rel) {
    for (const Entry& e : List(rel).value_or(std::vector<Entry>{})) {
      const auto segment = RelationSegment(e.name);
      if (!segment) continue;
      // The server would read through a link; its pages go uncounted here.
      if (S_ISREG(e.mode)) files.push_back({rel + "/" + std::string(e.name), *segment, e.size});
      else Note(fmt::format("{}/{}: {}, not read", rel, e.name, S_ISLNK(e.mode) ? "symbolic link" : "not a file"));
    }
  }

  void DatabaseDirs(const std::string& rel) {
    for (const Entry& e : List(rel).value_or(std::vector<Entry>{})) {
      if (!IsOid(e.name)) continue;
      if (S_ISDIR(e.mode)) RelationDir(rel + "/" + std::string(e.name));
      else Note(fmt::format("{}/{}: not a directory, not read", rel, e.name));
    }
  }

  // An old cluster's PG_<major>_<catversion> left by pg_upgrade is read too:
  // a higher LSN only moves the WAL start further, which is safe.
  void Tablespaces() {
    for (const Entry& e : List("pg_tblspc").value_or(std::vector<Entry>{})) {
      if (!IsOid(e.name)) continue;
      const std::string rel = "pg_tblspc/" + std::string(e.name);
      struct stat st {};
      if (stat((root + "/" + rel).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        Note(fmt::format("{}: does not lead to a directory", rel));
        continue;
      }
      for (const Entry& v : List(rel).value_or(std::vector<Entry>{})) {
        if (S_ISDIR(v.mode) && v.name.starts_with("PG_")) DatabaseDirs(rel + "/" + v.name);
      }
    }
  }
};

void JudgePage(const PageScanOptions& o, const std::string& rel, std::span<const uint8_t> page, uint64_t block,
               PageScanReport* r) {
  ++r->pages;
  // BlockNumber is 32 bits; the server's checksum wraps the same way.
  const PageVerdict v = CheckPage(page, static_cast<uint32_t>(block), o.checksums);
  if (v.kind == PageKind::kNew) {
    ++r->zero_pages;
  } else if (v.kind == PageKind::kInvalid && r->invalid_pages++ < kMaxExamples) {
    r->invalid_examples.push_back(fmt::format("{} block {}: {}", rel, block, DescribeInvalidPage(page, v)));
  } else if (v.kind == PageKind::kValid && (!r->max || v.lsn > r->max->lsn)) {
    r->max = PageLsnMax{v.lsn, rel, block};
  }
}

// Large preads into one buffer; a short read leaves a partial block at the
// front of the buffer for the next read to complete.
void ScanFile(const PageScanOptions& o, const RelFile& f, std::vector<uint8_t>* buffer, uint64_t* done,
              uint64_t total, PageScanReport* r) {
  const int fd = open((o.data_dir + "/" + f.rel).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    r->structural.push_back(fmt::format("{}: cannot open: {}", f.rel, std::strerror(errno)));
    return;
  }
  ++r->files;
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  const size_t bs = o.block_size;
  uint64_t block = f.segment * o.blocks_per_segment;
  uint64_t offset = 0;
  size_t have = 0;
  for (;;) {
    const ssize_t n = pread(fd, buffer->data() + have, buffer->size() - have, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0) {
        r->structural.push_back(fmt::format("{}: read failed at byte {}: {}", f.rel, offset, std::strerror(errno)));
      } else if (have > 0) {
        r->structural.push_back(fmt::format(
            "{}: {} bytes is not a multiple of the block size {}; the last {} bytes are not a page", f.rel, offset,
            bs, have));
      }
      break;
    }
    offset += static_cast<uint64_t>(n);
    r->bytes += static_cast<uint64_t>(n);
    have += static_cast<size_t>(n);
    size_t at = 0;
    for (; have - at >= bs; at += bs, ++block) JudgePage(o, f.rel, std::span(buffer->data() + at, bs), block, r);
    std::memmove(buffer->data(), buffer->data() + at, have - at);
    have -= at;
    *done += static_cast<uint64_t>(n);
    if (o.progress) o.progress(*done, std::max(*done, total));
  }
  close(fd);
}

}  // namespace

PageVerdict CheckPage(std::span<const uint8_t> page, uint32_t block_number, bool checksums) {
  PageVerdict v;
  if (page.size() < kPageHeaderSize) return v;
  const uint8_t* p = page.data();
  v.lsn = Lsn{uint64_t{Le32(p)} << 32 | Le32(p + 4)};
  const Header h = ReadHeader(p);
  // pd_upper 0 is the server's "never initialized": nothing else is checked,
  // and only a page of all zeros is accepted.
  if (h.upper == 0) {
    if (std::all_of(page.begin(), page.end(), [](uint8_t b) { return b == 0; })) v.kind = PageKind::kNew;
    return v;
  }
  v.header_sane = (h.flags & ~kValidFlagBits) == 0 && h.lower <= h.upper && h.upper <= h.special &&
                  h.special <= page.size() && h.special % kMaxAlign == 0;
  if (checksums) {
    v.checksum_checked = true;
    v.checksum_stored = StoredPageChecksum(page);
    v.checksum_computed = PageChecksum(page, block_number);
  }
  const bool checksum_ok = !v.checksum_checked || v.checksum_stored == v.checksum_computed;
  v.kind = v.header_sane && checksum_ok ? PageKind::kValid : PageKind::kInvalid;
  return v;
}

std::string DescribeInvalidPage(std::span<const uint8_t> page, const PageVerdict& v) {
  if (page.size() < kPageHeaderSize) return fmt::format("{} bytes, shorter than a page header", page.size());
  const Header h = ReadHeader(page.data());
  std::string out;
  if (h.upper == 0) {
    out = "pd_upper 0 (never initialized) but not all zeros";
  } else if (!v.header_sane) {
    out = fmt::format("insane header: flags 0x{:04X}, lower {}, upper {}, special {}", h.flags, h.lower, h.upper,
                      h.special);
  }
  if (v.checksum_checked && v.checksum_stored != v.checksum_computed) {
    out += fmt::format("{}checksum {}, expected {}", out.empty() ? "" : "; ", v.checksum_stored, v.checksum_computed);
  }
  return out.empty() ? "valid" : out;
}

Result<PageScanReport> ScanPageLsns(const PageScanOptions& options) {
  const uint32_t bs = options.block_size;
  if (bs < 1024 || bs > 32768 || (bs & (bs - 1)) != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("block size {} is not a power of two from 1024 to 32768", bs));
  }
  if (options.blocks_per_segment == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "blocks per segment must be at least 1");
  }
  struct stat st {};
  if (stat(options.data_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return MakeError(ErrorCode::kIo, "does not exist or is not a directory", options.data_dir);
  }
  PageScanReport report;
  Walk walk{options.data_dir, &report, {}};
  walk.RelationDir("global");
  walk.DatabaseDirs("base");
  walk.Tablespaces();
  uint64_t total = 0, done = 0;
  for (const RelFile& f : walk.files) total += f.size;
  std::vector<uint8_t> buffer(std::max<size_t>(kReadSize, bs));
  for (const RelFile& f : walk.files) ScanFile(options, f, &buffer, &done, total, &report);
  return report;
}

}  // namespace pgrescue
