// -l from the WAL file names, pg_control and every LSN a new WAL must start
// past; -o from pg_control, the OIDs on disk and WAL.
#include <algorithm>

#include <fmt/format.h>

#include "libcontrol/base/wal_names.h"
#include "libcontrol/catalogs/relation_names.h"
#include "libcontrol/plan/derive_common.h"
#include "libcontrol/plan/hazards.h"

namespace pgrescue {
namespace {

constexpr uint64_t kOidPrefetch = 8192;  // VAR_OID_PREFETCH: OIDs logged ahead of use

}  // namespace

PlannedValue DeriveNextOid(const PlanEvidence& e) {
  PlannedValue v = NewValue("-o", "--next-oid", "next OID");
  uint64_t chosen = kFirstNormalObjectId;
  v.reasoning.push_back(fmt::format("user objects start at OID {}", kFirstNormalObjectId));
  if (e.control) {
    const uint64_t pc = e.Pc(Field::kNextOid) + kOidPrefetch;
    v.reasoning.push_back(fmt::format("pg_control says NextOID {}; the server hands out up to {} OIDs past "
                                      "a checkpoint's value before logging more: {}",
                                      e.Pc(Field::kNextOid), kOidPrefetch, pc));
    chosen = std::max(chosen, pc);
  } else {
    v.confidence = Confidence::kMedium;
  }
  const DataDir& dir = *e.dir;
  if (dir.max_relation_oid) {
    v.reasoning.push_back(fmt::format("the largest relfilenode/database/tablespace OID on disk is {} ({}): {}",
                                      *dir.max_relation_oid, e.Rel(dir.max_relation_oid_path),
                                      *dir.max_relation_oid + 1));
    chosen = std::max(chosen, *dir.max_relation_oid + 1);
  }
  if (chosen > 0xFFFFFFFFu) {
    chosen = kFirstNormalObjectId;
    v.reasoning.push_back("past 2^32 OIDs wrap: 16384");
  }
  chosen = AtLeastWal(e.proof.next_oid, chosen, nullptr, &v);
  v.value = fmt::format("{}", chosen);
  return v;
}

PlannedValue DeriveWalStart(const PlanEvidence& e, std::vector<Hazard>* hazards) {
  const DataDir& dir = *e.dir;
  const uint64_t seg_size = e.segment_size();
  PlannedValue v = NewValue("-l", "--next-wal-file", "first WAL segment after the reset");
  v.reasoning.push_back(fmt::format("segment size {} bytes, from {}", seg_size, e.geometry.segment_size_source));
  uint32_t tli = 1;
  std::optional<uint64_t> max_seg;
  const DirEntry* max_entry = nullptr;
  std::string max_where;
  auto consider = [&](const DirListing& l, const std::string& where) {
    for (const auto& entry : l.entries) {
      if (entry.is_dir) continue;
      const auto n = ClassifyWalFileName(entry.name, seg_size);
      if (n.kind == WalFileKind::kTemporary || n.kind == WalFileKind::kOther) continue;
      tli = std::max(tli, n.timeline);
      if (n.segment_number && (!max_seg || *n.segment_number > *max_seg)) {
        max_seg = *n.segment_number;
        max_entry = &entry;
        max_where = where;
      }
    }
  };
  consider(dir.wal, e.Rel(dir.wal.path));
  for (const auto& a : dir.wal_archives) consider(a, a.path);
  if (max_seg) {
    v.reasoning.push_back(fmt::format("the newest WAL file on any timeline is {}/{}", max_where, max_entry->name));
  } else {
    v.reasoning.push_back("no WAL files were found");
  }
  if (e.control) {
    const Lsn redo{e.Pc(Field::kRedo)};
    const uint32_t pc_tli = static_cast<uint32_t>(e.Pc(Field::kThisTimeLineId));
    const uint64_t redo_seg = SegmentNumberOf(redo, seg_size);
    tli = std::max(tli, pc_tli);
    if (!max_seg || redo_seg > *max_seg) {
      max_seg = redo_seg;
      v.reasoning.push_back(fmt::format("pg_control's REDO point is in segment {}", redo_seg));
    }
    const std::string redo_name = SegmentNameFor(pc_tli, redo, seg_size).ToString(seg_size);
    const bool in_archive = std::any_of(dir.wal_archives.begin(), dir.wal_archives.end(),
                                        [&](const DirListing& a) { return Contains(a, redo_name); });
    if (!Contains(dir.wal, redo_name) && !in_archive) {
      Decide(hazards, "redo-segment-missing",
             fmt::format("the checkpoint's REDO segment {} is not in {} or any WAL archive given: the "
                         "server cannot start from this checkpoint. Look for it in backups or the WAL "
                         "archive (--wal-archive DIR) before resetting",
                         redo_name, e.Rel(dir.wal.path)));
    }
  } else if (!max_seg) {
    v.confidence = Confidence::kLow;
  }
  uint64_t next = max_seg ? *max_seg + 1 : 1;
  v.reasoning.push_back(fmt::format("newest timeline {}; one segment past the newest: {}", tli, next));
  // Pages and recovery markers written past the new WAL's start make every
  // later flush of them fail: the new WAL must begin after all of them.
  for (const auto& b : WalStartBounds(e.control, e.pages.max)) {
    const uint64_t segment = SegmentNumberOf(b.lsn, seg_size) + 1;
    if (segment > next) {
      v.reasoning.push_back(fmt::format("{} is {}: the new WAL must start past it, in segment {}", b.what,
                                        FormatLsn(b.lsn), segment));
      next = segment;
    } else {
      v.reasoning.push_back(fmt::format("{} is {}, before that", b.what, FormatLsn(b.lsn)));
    }
  }
  if (!e.pages_complete) {
    v.confidence = Confidence::kMedium;
    v.reasoning.push_back("not every data page could be read and trusted (see the hazards): a page LSN past this "
                          "may exist");
  }
  v.value = WalSegmentName{tli, next}.ToString(seg_size);
  return v;
}

}  // namespace pgrescue
