// The largest LSN written on any data page of a cluster. A WAL reset must
// start new WAL past it: a server that finds a page LSN beyond the end of WAL
// fails every checkpoint with "xlog flush request X is not satisfied".
//
// It reads every relation file PostgreSQL itself would read (global/,
// base/<db>/, pg_tblspc/<oid>/PG_*/<db>/: main, _fsm, _vm and _init forks and
// their .N segments) and never writes, locks or maps any of them. Only the
// pg_tblspc/<oid> links are followed; anything else that is not a regular
// file is noted, not entered, so a scan cannot leave the cluster or loop.
//
// A page counts only when PostgreSQL would accept it on read: all zeros (a
// new page, LSN 0), or a header that passes the server's sanity rule and,
// with data checksums, a matching checksum. Torn or overwritten pages carry
// arbitrary bytes where the LSN is, and one such page must not push the new
// WAL start terabytes ahead; they are counted and shown instead, so that the
// caller can say how much of the answer rests on pages it could not trust.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libcontrol/base/lsn.h"
#include "libcontrol/base/result.h"

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
  bool checksum_checked = false; // checksums on and the page not new-looking
  uint16_t checksum_stored = 0;
  uint16_t checksum_computed = 0;
};

// PostgreSQL's read-time check of one block (its size is the block size;
// `block_number` counts across segments, as the checksum mixes it in). Pure,
// so the scanner, tests and the fuzzer judge pages the same way.
PageVerdict CheckPage(std::span<const uint8_t> page, uint32_t block_number, bool checksums);

// Why a page was refused, for a person: "checksum 1234, expected 5678" (the
// stored value first), or the header fields that break the rule.
std::string DescribeInvalidPage(std::span<const uint8_t> page, const PageVerdict& verdict);

struct PageScanOptions {
  std::string data_dir;
  uint32_t block_size = 8192;            // from pg_control or a page header
  bool checksums = false;                // the cluster has data checksums
  uint64_t blocks_per_segment = 131072;  // RELSEG_SIZE: 1 GB / block size
  // Called after each read with bytes read so far and the listed total; may
  // be empty.
  std::function<void(uint64_t bytes_done, uint64_t bytes_total)> progress;
};

struct PageLsnMax {
  Lsn lsn;
  std::string file;    // relative to data_dir, e.g. base/16384/16397.1
  uint64_t block = 0;  // across segments
};

struct PageScanReport {
  std::optional<PageLsnMax> max;  // among kValid pages (zero pages hold none); the first of equals
  uint64_t files = 0;             // relation files read
  uint64_t pages = 0;             // whole blocks judged, zero and invalid included
  uint64_t zero_pages = 0;
  uint64_t bytes = 0;             // bytes read, a partial last block included
  uint64_t invalid_pages = 0;
  std::vector<std::string> invalid_examples;  // the first 10, "<file> block <n>: <why>"
  std::vector<std::string> structural;        // odd sizes, unreadable files, links not followed, ...
};

// Fails only on unusable options or when data_dir is not a directory; every
// problem inside the cluster goes into the report.
Result<PageScanReport> ScanPageLsns(const PageScanOptions& options);

}  // namespace pgrescue
