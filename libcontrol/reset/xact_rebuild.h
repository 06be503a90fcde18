// pg_xact rebuilt from evidence (xact_evidence.h): every segment between
// pg_control's oldest XID and the newest XID anywhere that lacks a page
// holding an XID a tuple or record names (or the next XID) -- missing, empty,
// cut short or unreadable -- is written anew. Whole pages
// that survive are copied as they are; every other XID gets its decided
// status, an unknown one the caller's policy, and one no tuple needs and no
// record mentions 0 (in progress, which every reader treats as aborted).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libcontrol/base/result.h"
#include "libcontrol/catalogs/relation_names.h"
#include "libcontrol/plan/xact_evidence.h"
#include "libcontrol/reset/apply.h"
#include "libcontrol/reset/refusals.h"

namespace pgrescue {

struct XactSegmentRebuild {
  uint64_t segment = 0;
  std::string name;            // "0001"
  std::string state;           // "missing", "empty", "truncated", "unreadable"
  std::string detail;          // "3 of 32 pages", "Permission denied"
  bool exists = false;         // a file (or other entry) is in the way: it is kept, then replaced
  uint64_t pages_kept = 0;     // whole pages copied from the old file
  uint64_t pages_written = 0;  // pages built from the decisions
};

// One relation's rows before and after, as a reader will count them.
struct RelationOutcome {
  std::string path;  // base/5/16384
  std::string name;  // database.schema.relation, or empty when the catalogs do not say
  uint64_t rows_if_committed = 0, rows_if_aborted = 0;  // unknown XIDs taken as committed / aborted
  uint64_t inserted_by_unknown = 0, deleted_by_unknown = 0;
  // Unique indexes whose keys would repeat among the rows a reader sees if
  // the unknown XIDs committed (a rolled-back insert back beside the row that
  // took its key) or aborted (a delete undone beside the row that took its
  // key): per index, the rows sharing each such key by ctid.
  struct Duplicates {
    std::string index;
    bool primary_key = false;
    std::vector<std::vector<std::string>> rows;  // per key: "(block,offset)" of each row
  };
  std::vector<Duplicates> duplicates_if_committed, duplicates_if_aborted;
};

struct XactRebuild {
  XactEvidence evidence;
  std::vector<XactSegmentRebuild> segments;
  uint32_t block_size = 8192;
  uint64_t xids_per_page = 0, pages_per_segment = 0;  // pg_xact's geometry
  std::vector<uint32_t> unknown;         // needed XIDs in rebuilt pages with no answer
  std::vector<uint32_t> contradictions;  // XIDs in rebuilt pages whose evidence disagrees
  std::vector<RelationOutcome> relations;  // every heap relation read
  // Over the XIDs in rebuilt pages: referenced by tuples, needed by a
  // reader, decided; and per xact_source bit, the decided ones it answered.
  uint64_t referenced = 0, needed = 0, decided = 0;
  std::map<uint8_t, uint64_t> decided_by;
  // Whether an XID's status is rebuilt, rather than read from a surviving page.
  bool Rebuilt(uint32_t xid) const;
};

// Judges pg_xact's segments and decides every XID. Names relations from the
// catalogs where they can be read.
Result<XactRebuild> PlanXactRebuild(const DataDir& dir, const ControlFile& control, unsigned jobs);

// The new segments, with unknown XIDs written as `unknown_committed` says:
// each replaced file is kept in the rescue folder first.
Result<ResetWrites> WritesForXactRebuild(const DataDir& dir, const ControlFile& control, const XactRebuild& rebuild,
                                         bool unknown_committed);

// Why a rebuild with unknown XIDs waits for the DBA's --unknown choice.
Refusal UnknownXidsRefusal(const XactRebuild& rebuild);

// The report: segments, XIDs decided by each kind of evidence, unknowns,
// contradictions, and relations whose rows depend on the unknowns.
std::string DescribeXactRebuild(const XactRebuild& rebuild);
nlohmann::ordered_json XactRebuildJson(const XactRebuild& rebuild);

}  // namespace pgrescue
