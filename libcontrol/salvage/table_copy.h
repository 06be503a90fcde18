// A table's rows copied block by block, by ctid, when a plain read of it
// fails: ranges of blocks are read with one COPY each and split in halves
// when one fails, down to single blocks. A block the server cannot read is
// skipped and recorded with the server's words; a block that reads but
// whose rows fail (a TOAST value that cannot be fetched) is copied row by
// row, and only the failing rows are recorded.
//
// Ranges are TID range scans from 14 (ctid >= '(lo,0)' AND ctid < '(hi,0)')
// and TID scans over the range's every possible item before; both read
// only the blocks named, never a damaged neighbour.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "libcontrol/salvage/pq.h"
#include "libcontrol/salvage/salvage_report.h"

namespace pgrescue {

struct TableToCopy {
  std::string schema, table;
  uint32_t oid = 0;
  std::string file;        // pg_relation_filepath
  std::string toast_file;  // its TOAST table's, or empty
  uint64_t blocks = 0;
  std::string columns;     // quoted, comma-separated, stored generated columns left out
  std::set<uint64_t> known_damaged;  // blocks the page check refused
};

struct TableCopyOptions {
  int server_major = 0;       // MajorNumber: 1400 and later have TID range scans
  uint32_t block_size = 8192;
  // The normal line pointers of a block of the table, when they can be read.
  std::function<std::optional<uint32_t>(const TableToCopy&, uint64_t block)> rows_on_block;
  // Where the server's words go for each page zero_damaged_pages zeroed; may be null.
  std::vector<std::string>* zeroed = nullptr;
  // Called with the blocks done so far, for progress.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// Appends "COPY <table> (<columns>) FROM stdin;", the rows read and "\." to
// `sink`; records what was saved and lost in `out`. Notices that a damaged
// page was zeroed (zero_damaged_pages) count that block as skipped.
void CopyTableByBlocks(Connection& connection, const TableToCopy& table, const TableCopyOptions& options,
                       std::ostream& sink, TableOutcome* out);

// The statement that reads blocks [lo, hi) of `table` as COPY text.
std::string CopyRangeSql(const TableToCopy& table, const TableCopyOptions& options, uint64_t lo, uint64_t hi);

}  // namespace pgrescue
