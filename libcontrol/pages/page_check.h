// PostgreSQL's read-time judgement of one data page, and its words for a
// page it refuses. Pure: the scanner, pgrescue-check, tests and the fuzzer
// judge pages the same way.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "libcontrol/base/lsn.h"

namespace pgrescue {

enum class PageKind : uint8_t {
  kNew,      // all zeros: extended but never written; valid, LSN 0
  kValid,    // header sane and (when checked) checksum matches
  kInvalid,  // the server would refuse to read it; its LSN means nothing
};

struct PageVerdict {
  PageKind kind = PageKind::kInvalid;
  Lsn lsn;                       // pd_lsn as stored, whatever the kind
  bool header_sane = false;      // the server's header rule holds (never with pd_upper 0)
  bool upper_zero = false;       // pd_upper 0: the server's "new page", accepted only all zeros
  bool checksum_checked = false; // checksums on and the page not new-looking
  uint16_t checksum_stored = 0;
  uint16_t checksum_computed = 0;
};

// What is wrong with a refused page, as pgrescue-check names it.
enum class PageProblem : uint8_t {
  kNone,
  kNotZero,             // pd_upper 0 ("never initialized") but not all zeros
  kHeader,              // the header rule fails
  kChecksum,            // the header is sane; the checksum does not match
  kHeaderAndChecksum,
  kBtree,               // the header is sound; the btree special space or flags are not
};

// The check of one block (its size is the block size; `block_number` counts
// across segments, as the checksum mixes it in).
PageVerdict CheckPage(std::span<const uint8_t> page, uint32_t block_number, bool checksums);

PageProblem ProblemOf(const PageVerdict& verdict);
// "not-zero", "header", "checksum", "checksum+header", "btree"; "" for kNone.
const char* PageProblemName(PageProblem problem);

// Why a page was refused, for a person, in the server's words where it has
// them: "page verification failed, calculated checksum 36311 but expected
// 12345", or the header fields that break the rule.
std::string DescribeInvalidPage(std::span<const uint8_t> page, const PageVerdict& verdict);

}  // namespace pgrescue
