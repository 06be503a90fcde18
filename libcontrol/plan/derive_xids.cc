// -x, -u and -c from pg_xact and pg_commit_ts, pg_control and WAL; -e from
// pg_control or a checkpoint record; and whether pg_xact still covers the
// XIDs in use.
#include <algorithm>

#include <fmt/format.h>

#include "libcontrol/base/id_order.h"
#include "libcontrol/plan/derive_common.h"
#include "libcontrol/plan/hazards.h"

namespace pgrescue {
namespace {

// Says which missing pg_xact segments the data pages prove unneeded, so
// the slru-holes hazard is left out for them (hazards.cc).
void HolesNoRowNeeds(const PlanEvidence& e, PlannedValue* v) {
  const std::vector<SegmentSpan> cleared = SplitHoles(e, e.xact).cleared;
  if (cleared.empty()) return;
  const bool one = SegmentCount(cleared) == 1;
  v->reasoning.push_back(fmt::format("{} segment{} {} {} missing, but no tuple carries an XID in them whose status "
                                     "is not hint-marked (newest XID in any tuple: {}, every data page read): "
                                     "nothing was lost",
                                     e.xact.dir, one ? "" : "s", SegmentRanges(e.xact, cleared), one ? "is" : "are",
                                     *e.pages.tuples.newest_xid));
}

}  // namespace

NextXidResult DeriveNextXid(const PlanEvidence& e, std::vector<Hazard>* hazards) {
  NextXidResult r;
  auto& v = r.value = NewValue("-x", "--next-transaction-id", "next transaction ID");
  const SlruEvidence& xact = e.xact;
  if (!xact.run) {
    if (e.control) {
      r.next = e.Pc(Field::kNextXid);
      v.reasoning.push_back(fmt::format("{} has no segments; pg_control says NextXID {}", xact.dir, *r.next));
      r.next = ReadableStart(xact, *r.next, &v);
      v.value = fmt::format("{}", *r.next);
      v.confidence = Confidence::kMedium;
    } else {
      v.reasoning.push_back(
          fmt::format("{} has no segments and pg_control is not usable: cannot be derived", xact.dir));
      v.in_command = false;
      v.confidence = Confidence::kLow;
      Decide(hazards, "next-xid-unknown",
             "the next transaction ID cannot be derived: pg_xact has no segments and "
             "pg_control is unusable. Look for XIDs in WAL or data pages");
    }
    return r;
  }
  const auto& l = *xact.layout;
  v.reasoning.push_back(RunText(xact));
  HolesNoRowNeeds(e, &v);
  uint64_t derived = NextBoundary(xact);
  const uint64_t newest_end = l.FirstIdOf(xact.run->last) + l.entries_per_segment() - 1;
  v.reasoning.push_back(fmt::format("the newest, {}, may hold XIDs up to {} (0x{:X}): next = {} × {} = {}",
                                    l.FileName(xact.run->last), newest_end, newest_end,
                                    (derived / l.entries_per_segment()), l.entries_per_segment(), derived));
  if (derived < kFirstNormalXid) {
    v.reasoning.push_back(fmt::format("that wraps to {}; XIDs 0–2 are special, so {}", derived, kFirstNormalXid));
    derived = kFirstNormalXid;
    r.wrapped = true;
  }
  uint64_t chosen = derived;
  if (e.control) {
    const uint64_t pc = e.Pc(Field::kNextXid);
    chosen = LaterNext(xact, derived, pc, "NextXID", &v);
    if (chosen < pc) r.wrapped = true;
  } else {
    v.reasoning.push_back(fmt::format("using {}, the start of a segment the server will create fresh", chosen));
    v.confidence = Confidence::kMedium;
  }
  chosen = AtLeastWal(e.proof.next_xid, chosen, &xact, &v);
  chosen = AtLeastPages(e.pages.tuples.newest_xid, e.pages.tuples.newest_xid_where, "XID", kFirstNormalXid, chosen,
                        &xact, &v);
  chosen = ReadableStart(xact, chosen, &v);
  r.next = chosen;
  v.value = fmt::format("{}", chosen);
  return r;
}

PlannedValue DeriveOldestXid(const PlanEvidence& e, std::optional<uint64_t> next_xid, std::vector<Hazard>* hazards) {
  const ControlLayout& layout = *e.layout;
  const bool supported = layout.rules().reset_has_oldest_xid_option;
  PlannedValue v = NewValue("-u", "--oldest-transaction-id", "oldest transaction ID");
  v.in_command = supported;
  if (!supported) {
    v.reasoning.push_back(fmt::format("{} {} has no -u; shown for information", layout.reset_tool(), layout.major()));
  }
  const SlruEvidence& xact = e.xact;
  uint64_t chosen = 0;
  if (xact.run) {
    uint64_t start = xact.layout->FirstIdOf(xact.run->first);
    if (start < kFirstNormalXid) start = kFirstNormalXid;
    v.reasoning.push_back(
        fmt::format("the oldest segment, {}, starts at XID {}", xact.layout->FileName(xact.run->first), start));
    chosen = start;
    if (e.control) {
      chosen = OldestWithin(xact, start, next_xid.value_or(start), e.Pc(Field::kOldestXid), "oldestXID", &v);
    } else {
      v.confidence = Confidence::kMedium;
    }
  } else if (e.control) {
    chosen = e.Pc(Field::kOldestXid);
    v.reasoning.push_back(fmt::format("no {} segments; pg_control says oldestXID {}", xact.dir, chosen));
    v.confidence = Confidence::kMedium;
  } else {
    v.reasoning.push_back("cannot be derived");
    v.in_command = false;
    v.confidence = Confidence::kLow;
    return v;
  }
  if (next_xid && static_cast<uint32_t>(*next_xid - chosen) > 2000000000u) {
    Decide(hazards, "xid-wraparound-near",
           fmt::format("the distance from oldest XID {} to next XID {} is over 2 billion: the server will "
                       "refuse new transactions until VACUUM freezes old rows",
                       chosen, *next_xid));
  }
  v.value = fmt::format("{}", chosen);
  return v;
}

std::optional<std::string> CheckSlruCoverage(const PlanEvidence& e, std::vector<Hazard>* hazards) {
  if (!e.control) return std::nullopt;
  std::optional<std::string> xact_missing;
  const uint64_t oldest = e.Pc(Field::kOldestXid), next = e.Pc(Field::kNextXid);
  const uint64_t span = (next - oldest) & 0xFFFFFFFFu;
  std::vector<std::string> names;
  if (e.xact.layout && span != 0 && span < 0x80000000u) {
    std::vector<std::string> all;
    const uint64_t lacking = MissingIds(e.xact, e.block_size(), oldest, next, &all);
    if (lacking != 0 && MissingIds(e.xact, e.block_size(), oldest, next, &names, &e) == 0) {
      Inform(hazards, "xact-missing-unneeded",
             fmt::format("{} lacks the status of {} of the {} XIDs from oldestXID {} to NextXID {} (missing: {}), "
                         "but no tuple needs it: every XID there that a tuple carries is hint-marked committed or "
                         "aborted ({} tuples, every data page read). Nothing was lost",
                         e.xact.dir, lacking, span, oldest, next, NameList(all), e.pages.tuples.tuples));
    } else if (const uint64_t missing = (names.clear(), MissingIds(e.xact, e.block_size(), oldest, next, &names, &e))) {
      xact_missing = fmt::format(
          "{} no longer covers the transactions in use: {} of the {} XIDs from oldestXID {} to NextXID {} have "
          "no commit status (missing: {}). Every row they wrote or deleted that is not frozen or hint-marked "
          "fails with \"could not access status of transaction\"",
          e.xact.dir, missing, span, oldest, next, NameList(names));
      Decide(hazards, "xact-missing",
             *xact_missing + ". A reset does not bring the status back; restore these files "
                             "from a backup if one holds them, or rebuild them from evidence "
                             "(pgrescue-reset --rebuild-xact)");
    }
  }
  const uint64_t oldest_multi = e.Pc(Field::kOldestMulti), next_multi = e.Pc(Field::kNextMulti);
  const uint64_t multis = (next_multi - oldest_multi) & 0xFFFFFFFFu;
  names.clear();
  if (e.offsets.layout && multis != 0 && multis < 0x80000000u) {
    if (const uint64_t missing = MissingIds(e.offsets, e.block_size(), oldest_multi, next_multi, &names)) {
      Decide(hazards, "multixact-missing",
             fmt::format("{} no longer covers the MultiXacts in use: {} of the {} from oldestMultiXid {} to "
                         "NextMultiXactId {} are gone (missing: {}). Rows locked or updated by them fail with "
                         "\"could not access status of transaction\" or \"MultiXactId … has not been created "
                         "yet\"; a reset does not bring them back. Restore these files from a backup if one "
                         "holds them",
                         e.offsets.dir, missing, multis, oldest_multi, next_multi, NameList(names)));
    }
  }
  return xact_missing;
}

std::optional<PlannedValue> DeriveCommitTs(const PlanEvidence& e, std::optional<uint64_t> next_xid) {
  const SlruEvidence& ts = e.commit_ts;
  if (!ts.layout) return std::nullopt;
  PlannedValue v = NewValue("-c", "--commit-timestamp-ids", "oldest and newest commit-timestamp XIDs");
  if (!ts.run) {
    v.reasoning.push_back(fmt::format("{} has no segments: nothing to set", ts.dir));
    v.in_command = false;
    return v;
  }
  const auto& l = *ts.layout;
  v.reasoning.push_back(RunText(ts));
  // Only pages that exist in the newest file can be looked up.
  const uint64_t bytes = ts.Bytes(ts.run->last);
  const uint64_t pages = std::max<uint64_t>(bytes / e.block_size(), 1);
  uint64_t oldest = l.FirstIdOf(ts.run->first);
  uint64_t newest = (l.FirstIdOf(ts.run->last) + pages * l.entries_per_page() - 1) & 0xFFFFFFFFu;
  const uint64_t minimum = e.layout->rules().reset_min_commit_ts_xid;
  if (oldest < minimum) oldest = minimum;
  v.reasoning.push_back(fmt::format("oldest = start of {} = {}; newest = last XID on the {} page{} of {} = {}",
                                    l.FileName(ts.run->first), oldest, pages, pages == 1 ? "" : "s",
                                    l.FileName(ts.run->last), newest));
  if (next_xid && !Precedes32(newest, *next_xid)) {
    newest = (*next_xid - 1) & 0xFFFFFFFFu;
    v.reasoning.push_back(fmt::format("capped below the next XID: {}", newest));
  }
  if (e.control && e.Pc(Field::kNewestCommitTsXid) != 0) {
    const uint64_t pc_old = e.Pc(Field::kOldestCommitTsXid), pc_new = e.Pc(Field::kNewestCommitTsXid);
    v.reasoning.push_back(fmt::format("pg_control says {},{}", pc_old, pc_new));
    if (!Precedes32(pc_old, oldest) && !Precedes32(newest, pc_new)) {
      oldest = pc_old;
      newest = pc_new;
      v.reasoning.push_back("inside what the files hold; keeping pg_control's");
    }
  } else {
    v.confidence = Confidence::kMedium;
  }
  v.value = fmt::format("{},{}", oldest, newest);
  return v;
}

PlannedValue DeriveEpoch(const PlanEvidence& e, bool xid_wrapped) {
  PlannedValue v = NewValue("-e", "--epoch", "transaction ID epoch");
  if (e.control) {
    uint64_t epoch = e.Pc(Field::kNextXidEpoch);
    v.reasoning.push_back(fmt::format("pg_control says epoch {}", epoch));
    if (xid_wrapped) {
      epoch = (epoch + 1) & 0xFFFFFFFFu;
      v.reasoning.push_back(fmt::format("the next XID wrapped past 2^32: {}", epoch));
    }
    v.value = fmt::format("{}", epoch);
    return v;
  }
  if (const auto* c = e.wal ? e.wal->NewestUsable() : nullptr) {
    ControlFile scratch(*e.layout);
    c->record.ApplyTo(&scratch);
    v.value = fmt::format("{}", scratch.value(Field::kNextXidEpoch));
    v.reasoning.push_back(fmt::format("pg_control is not usable; the checkpoint record at {} in WAL says epoch {}",
                                      FormatLsn(c->record.lsn), v.value));
    return v;
  }
  v.in_command = false;
  v.confidence = Confidence::kLow;
  v.value = "unknown";
  v.reasoning.push_back(
      "unknown: only pg_control and checkpoint records in WAL record it. It affects 64-bit transaction IDs "
      "(txid_current(), pg_current_xact_id()) and tools that store them; row visibility does not depend on it. "
      "Without -e, pg_resetwal uses 0");
  return v;
}

}  // namespace pgrescue
