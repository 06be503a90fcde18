// SLRU and WAL arithmetic the derivations share: where a run ends, how far
// an ID lies from its start, and when pg_control or WAL overrule the files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/plan/derivations.h"

namespace pgrescue {

constexpr uint32_t kFirstNormalXid = 3;
constexpr uint32_t kFirstMultiXactId = 1;

PlannedValue NewValue(std::string option, std::string long_option, std::string what);

// The first ID of the segment after the run's newest: where the server
// starts a fresh segment file.
uint64_t NextBoundary(const SlruEvidence& s);

// The later of the files' boundary and pg_control's next value: pg_control
// may be ahead by less than a segment (a segment not yet created). A value
// further away contradicts the files, which then win.
uint64_t LaterNext(const SlruEvidence& s, uint64_t derived, uint64_t pc, const char* label, PlannedValue* v);

// pg_control's oldest value if it lies inside the run, else the run's start.
uint64_t OldestWithin(const SlruEvidence& s, uint64_t start, uint64_t next, uint64_t pc, const char* label,
                      PlannedValue* v);

std::string RunText(const SlruEvidence& s);

// Raises `chosen` to what WAL proves, up to the start of the next segment
// of `s` (whose page the server then creates fresh) when `s` is given.
uint64_t AtLeastWal(const std::optional<WalBound>& bound, uint64_t chosen, const SlruEvidence* s, PlannedValue* v);

// The same for what the data pages prove: every XID (MultiXactId) stamped in
// a tuple was assigned, so the next one lies past the newest; past a wrap
// the next is `first_normal` (3 for XIDs, 1 for MultiXactIds).
uint64_t AtLeastPages(std::optional<uint32_t> newest, const std::string& where, const char* what,
                      uint64_t first_normal, uint64_t chosen, const SlruEvidence* s, PlannedValue* v);

// At startup the server reads the page that holds the next ID unless the ID
// starts a page; if its segment is gone it refuses to start ("could not
// access status of transaction"). The next segment boundary is always safe:
// the server creates that segment fresh.
uint64_t ReadableStart(const SlruEvidence& s, uint64_t next, PlannedValue* v);

// Missing IDs of `s` in [oldest, next): pages the server needs that no
// segment file holds. `names` gets the segments at fault. Segments `e`
// proves unneeded (NoTupleNeeds) are skipped when `e` is given.
uint64_t MissingIds(const SlruEvidence& s, uint32_t block_size, uint64_t oldest, uint64_t next,
                    std::vector<std::string>* names, const PlanEvidence* e = nullptr);

// Whether the data pages prove that no row needs the commit status of XIDs
// [lo, hi) of pg_xact `s`: every page was read and trusted, no tuple carries
// an XID in the range that is not hint-marked committed or aborted, and none
// carries a MultiXactId (whose member XIDs the pages do not show). A
// `pg_resetwal -x` jump leaves such XIDs without pages; so does deleting
// pg_xact after every row was read once.
bool NoTupleNeeds(const PlanEvidence& e, const SlruEvidence& s, uint64_t lo, uint64_t hi);

// The holes of `s`'s run, split by whether NoTupleNeeds clears them (it
// never does for SLRUs other than pg_xact).
struct HoleSplit {
  std::vector<SegmentSpan> needed;
  std::vector<SegmentSpan> cleared;
};
HoleSplit SplitHoles(const PlanEvidence& e, const SlruEvidence& s);

// "0001–007F, 0090".
std::string SegmentRanges(const SlruEvidence& s, const std::vector<SegmentSpan>& spans);

std::string NameList(const std::vector<std::string>& names);

}  // namespace pgrescue
