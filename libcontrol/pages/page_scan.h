// Every data page of a cluster, judged as the server judges it on read, and
// the largest LSN among those it would accept. A WAL reset must start new WAL
// past that LSN: a server that finds a page LSN beyond the end of WAL fails
// every checkpoint with "xlog flush request X is not satisfied".
//
// Reads every relation file (relation_files.h) and never writes, locks or
// maps any of them. Files are spread over `jobs` threads; the report is the
// same whatever the number, in walk order.
//
// A page counts only when PostgreSQL would accept it: all zeros (a new page,
// LSN 0), or a header that passes the server's sanity rule and, with data
// checksums, a matching checksum. Torn or overwritten pages carry arbitrary
// bytes where the LSN is, and one such page must not push the new WAL start
// terabytes ahead; they are listed instead, so that the caller can say how
// much of the answer rests on pages it could not trust.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/base/lsn.h"
#include "libcontrol/base/result.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/control/control_file.h"
#include "libcontrol/pages/heap_check.h"
#include "libcontrol/pages/page_check.h"
#include "libcontrol/pages/relation_files.h"
#include "libcontrol/pages/xid_evidence.h"

namespace pgrescue {

// How a relation's main fork lays out its pages, as the catalogs say.
enum class RelationFormat : uint8_t {
  kUnknown,  // not named: a main-fork page without special space is taken for a heap page
  kHeap,     // a table, TOAST table or materialized view
  kBtree,
  kOther,    // sequences, other index methods: the page header only
};

struct PageScanOptions {
  std::string data_dir;
  uint32_t block_size = 8192;            // from pg_control or a page header
  bool checksums = false;                // the cluster has data checksums
  uint64_t blocks_per_segment = 131072;  // RELSEG_SIZE: 1 GB / block size
  // Called after each read with bytes read so far and the listed total,
  // from one thread at a time, the bytes always growing; may be empty.
  std::function<void(uint64_t bytes_done, uint64_t bytes_total)> progress;
  unsigned jobs = 1;                     // threads reading files
  // Files larger than this are read in parts of this many blocks on
  // different threads: a cluster's data is often one big table.
  uint64_t part_blocks = 8192;
  // The format of a relation file's pages; unset, every file is kUnknown.
  // Called once per file part, from any thread.
  std::function<RelationFormat(const RelationFile&)> format_of;
  // Which relation files to read; unset, all of them.
  std::function<bool(const RelationFile&)> include;
  // The next XID and MultiXactId tuples must precede (see heap_check.h).
  HeapLimits limits;
  // Gather XidTupleEvidence (xid_evidence.h): for rebuilding pg_xact.
  bool collect_xids = false;
};

struct PageLsnMax {
  Lsn lsn;
  std::string file;    // relative to data_dir, e.g. base/16384/16397.1
  uint64_t block = 0;  // across segments
};

struct DamagedBlock {
  size_t file = 0;     // index into PageScanReport::scanned
  uint64_t block = 0;  // across segments, as the server and pg_checksums number it
  PageProblem problem = PageProblem::kNone;
  std::optional<uint16_t> checksum_stored, checksum_computed;  // when checksums were verified
  std::string message;  // DescribeInvalidPage's, or the btree check's
  // A heap block's rows by its line pointers, when pd_lower allows counting.
  std::optional<uint32_t> rows;
};

// A heap tuple or line pointer verify_heapam would report.
struct TupleFinding {
  size_t file = 0;  // index into PageScanReport::scanned
  uint64_t block = 0;
  uint16_t offset = 0;  // the line pointer's number, from 1
  std::string message;
};

struct ScannedFile {
  RelationFile file;
  uint64_t blocks = 0;   // whole blocks judged
  uint64_t damaged = 0;
};

// What the tuples on heap pages (main forks, no special space, valid) prove:
// every XID and MultiXactId in them was assigned, so the next ones lie
// beyond. Newest in the circular order XIDs are compared in.
struct TupleEvidence {
  uint64_t tuples = 0;
  uint64_t xmin_committed = 0, xmin_aborted = 0, xmin_frozen = 0, xmin_unhinted = 0;
  std::optional<uint32_t> newest_xid;        // a normal XID (>= 3) in xmin (not frozen) or xmax
  std::string newest_xid_where;              // "base/5/16384 block 3"
  // Per 2^20 XIDs (key XID >> 20), the lowest and highest such XID whose
  // commit status a reader of the tuple must look up in pg_xact: those not
  // hint-marked committed or aborted (the server trusts its hint bits). So
  // whether a row needs a missing pg_xact page can be judged.
  std::map<uint32_t, std::pair<uint32_t, uint32_t>> xid_spans;
  void AddXid(uint32_t xid);
  std::optional<uint32_t> newest_multixact;  // an xmax marked as a MultiXactId
  std::string newest_multixact_where;
};

struct PageScanReport {
  std::optional<PageLsnMax> max;  // among kValid pages (zero pages hold none); the first of equals
  uint64_t files = 0;             // relation files read
  uint64_t pages = 0;             // whole blocks judged, zero and invalid included
  uint64_t zero_pages = 0;
  uint64_t bytes = 0;             // bytes read, a partial last block included
  uint64_t invalid_pages = 0;
  std::vector<ScannedFile> scanned;        // every relation file found, in walk order
  std::vector<DamagedBlock> damaged;       // every refused block, in walk order
  std::vector<TupleFinding> tuple_problems;  // on valid heap pages, in walk order
  std::vector<FileFinding> structural;     // odd sizes, gaps, unreadable files, links not followed
  TupleEvidence tuples;
  // With collect_xids: every XID's claims, and each relation's tuple shapes
  // by its path ("base/5/16384").
  XidTupleEvidence xids;
  std::map<std::string, TupleShapes> shapes;

  // "<file> block <n>: <why>" for the first `limit` damaged blocks.
  std::vector<std::string> DamagedExamples(size_t limit) const;
  std::vector<std::string> StructuralMessages() const;
};

// The options for a data directory: block size, checksums and segment size
// from pg_control when it is trusted (nullptr when not); otherwise the block
// size a relation's page header gives, 1 GB segments, and no checksums,
// since nothing says the cluster has them.
PageScanOptions PageScanOptionsFor(const DataDir& dir, const ControlFile* trusted);

// Fails only on unusable options or when data_dir is not a directory; every
// problem inside the cluster goes into the report.
Result<PageScanReport> ScanPageLsns(const PageScanOptions& options);

}  // namespace pgrescue
