#include "libcontrol/plan/evidence.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "libcontrol/control/control_text.h"

namespace pgrescue {
namespace {

void NoteFound(const DataDir& dir, const PlanEvidence& e, std::vector<std::string>* found) {
  auto& f = *found;
  f.push_back(fmt::format("PG_VERSION: {}", dir.pg_version ? *dir.pg_version : "missing"));
  if (!dir.control_present) {
    f.push_back("global/pg_control: missing");
  } else if (!dir.control->ok()) {
    f.push_back(fmt::format("global/pg_control: unusable: {}", dir.control->error().message));
  } else {
    const auto& read = dir.control->value();
    const auto& c = read.control;
    f.push_back(fmt::format("global/pg_control: PostgreSQL {} layout, CRC {}, state \"{}\", checkpoint {} "
                            "(REDO {}, timeline {})",
                            c.layout().major(), read.crc_ok() ? "ok" : "MISMATCH", DbStateText(c.value(Field::kState)),
                            FormatLsn({c.value(Field::kCheckPoint)}, c.layout().text().lsn_style),
                            FormatLsn({c.value(Field::kRedo)}, c.layout().text().lsn_style),
                            c.value(Field::kThisTimeLineId)));
  }
  auto count_files = [](const DirListing& l) {
    return std::count_if(l.entries.begin(), l.entries.end(), [](const DirEntry& d) { return !d.is_dir; });
  };
  f.push_back(fmt::format("{}: {}", e.Rel(dir.wal.path),
                          dir.wal.exists ? fmt::format("{} files", count_files(dir.wal)) : "missing"));
  for (const auto& a : dir.wal_archives) {
    f.push_back(
        fmt::format("WAL archive {}: {}", a.path, a.exists ? fmt::format("{} files", count_files(a)) : "missing"));
  }
  f.push_back(fmt::format("relation files: {}; largest OID among them, databases and tablespaces: {}",
                          dir.relation_files,
                          dir.max_relation_oid
                              ? fmt::format("{} ({})", *dir.max_relation_oid, e.Rel(dir.max_relation_oid_path))
                              : "none"));
  for (const auto& [name, value] : dir.settings) f.push_back(fmt::format("setting {} = {}", name, value));
}

// What WAL proves: whether crash recovery can start from pg_control's
// checkpoint, and which other checkpoint it could start from (never one
// newer than a backup's start).
void ReadWal(const DataDir& dir, PlanEvidence* e) {
  e->backup = JudgeBackup(dir, e->control);
  WalScanOptions o;
  o.layout = e->layout;
  o.segment_size = e->geometry.segment_size;
  o.page_size = e->geometry.page_size;
  o.listings = WalListings(dir);
  if (e->control != nullptr) o.system_identifier = e->Pc(Field::kSystemIdentifier);
  const bool has_pc = e->control != nullptr;
  const Lsn pc{has_pc ? e->Pc(Field::kCheckPoint) : 0};
  auto report = ScanWalJudging(o, {has_pc ? std::optional<Lsn>(pc) : std::nullopt, e->backup.newest_start});
  if (!report) return;
  e->wal = std::move(*report);
  const WalScanReport& wal = *e->wal;
  e->proof = ProveFromWal(wal, *e->layout);
  const auto* newest = wal.NewestUsable();
  e->found.push_back(fmt::format("WAL: {} segment(s); valid WAL ends at {} ({}); newest usable checkpoint {}",
                                 wal.segments_present, FormatLsn(wal.end.at), WalStopName(wal.end.why),
                                 newest ? FormatLsn(newest->record.lsn) : "none"));
  for (const auto& line : e->backup.evidence) e->found.push_back(line);
  e->crash_recovery_works = has_pc && RecoverableFrom(&wal, pc);
  // A shut-down server starts without replaying anything and writes new WAL
  // right after its checkpoint record: valid WAL beyond it would be lost.
  if (e->crash_recovery_works && e->Pc(Field::kState) == static_cast<uint64_t>(DbState::kShutdowned)) {
    const auto* c = wal.Find(pc);
    if (wal.end.at.value > ((c->record.end.value + 7) & ~uint64_t{7})) {
      e->crash_recovery_works = false;
      e->control_problem = fmt::format("pg_control says \"shut down\" at checkpoint {}, but valid WAL continues past "
                                       "it to {}: a started server would write over that WAL",
                                       FormatLsn(pc), FormatLsn(wal.end.at));
    }
  } else if (has_pc && !e->crash_recovery_works) {
    e->control_problem = fmt::format("crash recovery cannot start from pg_control's checkpoint {}: the record or WAL "
                                     "from its redo point is not readable to the end",
                                     FormatLsn(pc));
  }
  if (e->backup.newest_start) e->backup_wal_readable = RecoverableFrom(&wal, *e->backup.newest_start);
  for (auto it = wal.checkpoints.rbegin(); it != wal.checkpoints.rend(); ++it) {
    if (!RecoverableFrom(&wal, it->record.lsn)) continue;
    if (e->backup.newest_start && it->record.lsn > *e->backup.newest_start) {
      if (!e->skipped_newer) e->skipped_newer = it->record.lsn;
      continue;
    }
    if (!has_pc || it->record.lsn != pc) e->from_wal = it->record.lsn;
    break;
  }
}

void ReadPages(const DataDir& dir, const PlanOptions& options, PlanEvidence* e) {
  e->pages = options.pages != nullptr ? *options.pages : ScanDataPages(dir, e->control);
  const PageScanReport& r = e->pages;
  e->found.push_back(fmt::format("data pages: {} in {} relation file(s); largest page LSN {}{}", r.pages, r.files,
                                 r.max ? FormatLsn(r.max->lsn) : "none",
                                 r.max ? fmt::format(" ({} block {})", r.max->file, r.max->block) : ""));
  e->pages_complete = r.invalid_pages == 0 && r.structural.empty();
}

}  // namespace

std::string PlanEvidence::Rel(const std::string& path) const {
  return std::filesystem::path(path).lexically_relative(dir->root).string();
}

bool RecoverableFrom(const WalScanReport* wal, Lsn at) {
  if (wal == nullptr) return false;
  const auto* c = wal->Find(at);
  if (c == nullptr || !c->usable) return false;
  return std::none_of(wal->breaks.begin(), wal->breaks.end(), [&](const WalScanEnd& b) { return b.at > at; });
}

std::optional<XidWrapDistance> JudgeXidWrap(const PlanEvidence& e) {
  if (e.control == nullptr) return std::nullopt;
  constexpr uint64_t kWrapDistance = 2147483647;  // half the XID circle
  constexpr uint64_t kWarnMargin = 40000000;      // the widest margin at which a server version starts warning
  const uint32_t next = static_cast<uint32_t>(e.Pc(Field::kNextXid));
  const uint32_t oldest = static_cast<uint32_t>(e.Pc(Field::kOldestXid));
  const uint64_t age = static_cast<uint32_t>(next - oldest);
  return XidWrapDistance{age + kWarnMargin >= kWrapDistance,
                         fmt::format("pg_control: next XID {} is {} past the oldest unfrozen XID {}; wraparound is "
                                     "{} past it",
                                     next, age, oldest, kWrapDistance)};
}

uint64_t SlruEvidence::Bytes(uint64_t segment) const {
  const auto it = segments.find(segment);
  if (it == segments.end()) return 0;
  struct stat st {};
  const std::string file = path + "/" + it->second;
  return stat(file.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

SlruEvidence ListSlru(const DataDir& dir, const DirListing& listing, SlruKind kind, const ControlLayout& layout,
                      uint32_t block_size) {
  SlruEvidence s;
  s.layout.emplace(kind, layout, block_size);
  s.dir = std::filesystem::path(listing.path).lexically_relative(dir.root).string();
  s.path = listing.path;
  std::vector<uint64_t> segments;
  for (const auto& e : listing.entries) {
    const auto seg = e.is_dir ? std::nullopt : s.layout->ParseFileName(e.name);
    if (!seg) {
      s.unknown.emplace_back(e.name);
      continue;
    }
    segments.push_back(*seg);
    s.segments.emplace(*seg, e.name);
  }
  s.run = FindSlruRun(segments, s.layout->segment_count());
  return s;
}

PlanEvidence GatherEvidence(const DataDir& dir, const ControlLayout& layout, const PlanOptions& options) {
  PlanEvidence e;
  e.dir = &dir;
  e.layout = &layout;
  e.trust = JudgeControl(dir, &layout);
  e.control = e.trust.trusted;
  NoteFound(dir, e, &e.found);
  // kBestGuess never fails.
  e.geometry = *WorkOutGeometry(dir, layout, e.control, GeometryFallback::kBestGuess);
  const ClusterGeometry& g = e.geometry;
  e.found.push_back(fmt::format("block size {} bytes, from {}; WAL segment size {} bytes, from {}", g.block_size,
                                g.block_size_source, g.segment_size, g.segment_size_source));
  ReadWal(dir, &e);
  ReadPages(dir, options, &e);
  e.xact = ListSlru(dir, dir.xact, SlruKind::kXact, layout, g.block_size);
  e.offsets = ListSlru(dir, dir.multixact_offsets, SlruKind::kMultiXactOffsets, layout, g.block_size);
  e.members = ListSlru(dir, dir.multixact_members, SlruKind::kMultiXactMembers, layout, g.block_size);
  if (layout.Has(Field::kOldestCommitTsXid)) {
    e.commit_ts = ListSlru(dir, dir.commit_ts, SlruKind::kCommitTs, layout, g.block_size);
  }
  return e;
}

}  // namespace pgrescue
