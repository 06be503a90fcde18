#include "libcontrol/pages/page_check.h"

#include <cstring>

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/pages/page_checksum.h"

namespace pgrescue {
namespace {

constexpr size_t kPageHeaderSize = 24;       // through pd_prune_xid
constexpr uint16_t kValidFlagBits = 0x0007;  // has free lines, page full, all visible
constexpr size_t kMaxAlign = 8;              // x86-64 MAXALIGN

struct Header { uint16_t flags, lower, upper, special; };
Header ReadHeader(const uint8_t* p) { return {Le16(p + 10), Le16(p + 12), Le16(p + 14), Le16(p + 16)}; }

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
    v.upper_zero = true;
    // The first byte zero and every byte equal to the one before: memcmp
    // runs at memory speed in every build, a byte loop not in a debug one.
    if (p[0] == 0 && std::memcmp(p, p + 1, page.size() - 1) == 0) v.kind = PageKind::kNew;
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

PageProblem ProblemOf(const PageVerdict& v) {
  if (v.kind != PageKind::kInvalid) return PageProblem::kNone;
  const bool checksum_bad = v.checksum_checked && v.checksum_stored != v.checksum_computed;
  if (v.upper_zero) return PageProblem::kNotZero;
  if (!v.header_sane) return checksum_bad ? PageProblem::kHeaderAndChecksum : PageProblem::kHeader;
  return PageProblem::kChecksum;
}

const char* PageProblemName(PageProblem problem) {
  switch (problem) {
    case PageProblem::kNone: return "";
    case PageProblem::kNotZero: return "not-zero";
    case PageProblem::kHeader: return "header";
    case PageProblem::kChecksum: return "checksum";
    case PageProblem::kHeaderAndChecksum: return "checksum+header";
    case PageProblem::kBtree: return "btree";
  }
  return "";
}

std::string DescribeInvalidPage(std::span<const uint8_t> page, const PageVerdict& v) {
  if (page.size() < kPageHeaderSize) return fmt::format("{} bytes, shorter than a page header", page.size());
  const Header h = ReadHeader(page.data());
  std::string out;
  if (h.upper == 0) {
    out = "pd_upper 0 (never initialized) but not all zeros";
  } else if (!v.header_sane) {
    out = fmt::format("invalid page header: flags 0x{:04X}, lower {}, upper {}, special {}", h.flags, h.lower,
                      h.upper, h.special);
  }
  if (v.checksum_checked && v.checksum_stored != v.checksum_computed) {
    out += fmt::format("{}page verification failed, calculated checksum {} but expected {}", out.empty() ? "" : "; ",
                       v.checksum_computed, v.checksum_stored);
  }
  return out.empty() ? "valid" : out;
}

}  // namespace pgrescue
