#include "libcontrol/plan/backup_end.h"

#include <sys/stat.h>

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "libcontrol/base/wal_names.h"
#include "libcontrol/control/control_json.h"
#include "libcontrol/pages/relation_files.h"
#include "libcontrol/wal/wal_decode.h"

namespace pgrescue {
namespace {


// Reading the copy as recovery will: the checkpoint recovery starts from
// (backup_label's, or pg_control's once the copy has been started), and the
// backup's start.
struct BackupStart {
  Lsn checkpoint, redo;
  std::string source;
};

std::optional<BackupStart> FindBackupStart(const PlanEvidence& e, std::string* missing) {
  const BackupState& b = e.backup;
  if (b.label) {
    if (b.label->method == "streamed") {
      *missing = "backup_label says \"BACKUP METHOD: streamed\": a non-exclusive backup (pg_basebackup, or "
                 "pg_start_backup(..., false)) ends at the end-of-backup record its pg_stop_backup writes; supply "
                 "the WAL that holds it (--wal-archive) instead";
      return std::nullopt;
    }
    return BackupStart{b.label->checkpoint, b.label->start, "backup_label"};
  }
  if (e.dir->backup_label) {
    *missing = "backup_label is there but names no START WAL LOCATION and CHECKPOINT LOCATION";
    return std::nullopt;
  }
  if (e.control == nullptr || !BackupRecoveryUnfinished(*e.control) || e.Pc(Field::kBackupStartPoint) == 0) {
    *missing = "neither backup_label nor pg_control's backup start point says a backup's recovery is unfinished: "
               "there is no backup to finish";
    return std::nullopt;
  }
  if (e.Pc(Field::kBackupEndRequired) != 0) {
    *missing = "pg_control requires an end-of-backup record (a non-exclusive backup): pg_stop_backup writes it; "
               "supply the WAL that holds it (--wal-archive) instead";
    return std::nullopt;
  }
  return BackupStart{Lsn{e.Pc(Field::kCheckPoint)}, Lsn{e.Pc(Field::kBackupStartPoint)},
                     "pg_control's backup start point (the copy has been started before)"};
}

// When the copy's own server first ran: it renames backup_label to
// backup_label.old at startup, which sets that file's change time.
std::optional<int64_t> FirstStart(const DataDir& dir) {
  if (dir.backup_label || !dir.backup_label_old) return std::nullopt;
  struct stat st {};
  if (stat((dir.root + "/backup_label.old").c_str(), &st) != 0) return std::nullopt;
  return static_cast<int64_t>(st.st_ctim.tv_sec);
}

// Relation files and commit-status (SLRU) files modified after the shutdown
// and before the copy's first start: written by a primary that came back
// while the copy was read. SLRU pages written then hold the status of XIDs
// past the end point, which the promoted copy would hand out again.
std::vector<std::pair<std::string, int64_t>> FilesNewerThan(const PlanEvidence& e, int64_t shutdown,
                                                            std::optional<int64_t> first_start, size_t* files) {
  std::vector<std::string> names;
  for (const RelationFile& f : FindRelationFiles(e.dir->root, e.block_size(), e.Pc(Field::kRelSegSize)).files) {
    names.push_back(f.rel);
  }
  for (const SlruEvidence* slru : {&e.xact, &e.offsets, &e.members, &e.commit_ts}) {
    for (const auto& [segment, name] : slru->segments) names.push_back(slru->dir + "/" + name);
  }
  *files = names.size();
  std::vector<std::pair<std::string, int64_t>> newer;
  for (const std::string& name : names) {
    struct stat st {};
    if (stat((e.dir->root + "/" + name).c_str(), &st) != 0) continue;
    const int64_t mtime = st.st_mtim.tv_sec;
    if (mtime > shutdown && (!first_start || mtime < *first_start)) newer.emplace_back(name, mtime);
  }
  return newer;
}

bool BreakBetween(const WalScanReport& wal, Lsn from, Lsn to) {
  return std::any_of(wal.breaks.begin(), wal.breaks.end(), [&](const WalScanEnd& b) { return b.at > from && b.at <= to; });
}

}  // namespace

BackupEndProof ProveBackupEnd(const PlanEvidence& e) {
  BackupEndProof p;
  if (e.control == nullptr) {
    p.missing = "pg_control cannot be trusted, and the backup's end is written into it";
    return p;
  }
  if (e.Pc(Field::kBackupEndPoint) != 0) {
    p.missing = fmt::format("pg_control already names the backup's end, {}: recovery stops being a backup's "
                            "recovery there; nothing to finish",
                            FormatLsn(Lsn{e.Pc(Field::kBackupEndPoint)}));
    return p;
  }
  const auto start = FindBackupStart(e, &p.missing);
  if (!start) return p;
  p.start = start->redo;
  p.evidence.push_back(fmt::format("{}: the backup started at {} (checkpoint {})", start->source,
                                   FormatLsn(start->redo), FormatLsn(start->checkpoint)));
  if (!e.wal) {
    p.missing = "WAL could not be read";
    return p;
  }
  const WalScanReport& wal = *e.wal;
  const FoundCheckpoint* from = wal.Find(start->checkpoint);
  if (from == nullptr || !from->usable) {
    p.missing = fmt::format("the backup's checkpoint {} and the WAL from its redo point {} are not all readable in "
                            "pg_wal and the archives given: supply the WAL archive (--wal-archive) or the "
                            "primary's pg_wal from segment {} on",
                            FormatLsn(start->checkpoint), FormatLsn(start->redo),
                            SegmentNameFor(wal.timeline, start->redo, e.segment_size()).ToString(e.segment_size()));
    return p;
  }
  const auto shutdown = std::find_if(wal.checkpoints.begin(), wal.checkpoints.end(), [&](const FoundCheckpoint& c) {
    return c.record.shutdown && c.record.lsn > start->checkpoint;
  });
  if (shutdown == wal.checkpoints.end()) {
    p.missing = fmt::format("no shutdown checkpoint follows the backup's start in the WAL read (valid WAL ends at "
                            "{}): without the primary's shutdown nothing bounds what the copy holds; supply the "
                            "primary's WAL up to its shutdown (--wal-archive, or its pg_wal)",
                            FormatLsn(wal.end.at));
    return p;
  }
  const WalCheckpoint& c = shutdown->record;
  for (const auto& b : wal.backup_ends) {
    if (b.start == start->redo && b.lsn < c.lsn) {
      p.missing = fmt::format("WAL holds this backup's end-of-backup record at {}: pg_stop_backup ran, and the "
                              "copy's recovery ends the backup there by itself (recover-backup)",
                              FormatLsn(b.lsn));
      return p;
    }
  }
  if (BreakBetween(wal, start->checkpoint, c.end)) {
    p.missing = fmt::format("WAL breaks between the backup's start and the primary's shutdown checkpoint at {}",
                            FormatLsn(c.lsn));
    return p;
  }
  ControlFile at_shutdown = *e.control;
  c.ApplyTo(&at_shutdown);
  p.shutdown_checkpoint = c.lsn;
  p.end_point = c.end;
  p.shutdown_time = at_shutdown.signed_value(Field::kCheckpointTime);
  p.evidence.push_back(fmt::format("the primary shut down: shutdown checkpoint at {} (ends at {}, {}), and every "
                                   "WAL record from {} to it is readable",
                                   FormatLsn(c.lsn), FormatLsn(c.end), FormatIsoUtc(p.shutdown_time),
                                   FormatLsn(start->redo)));
  if (e.pages.max && e.pages.max->lsn > c.end) {
    p.missing = fmt::format("{} block {} carries LSN {}, past the primary's shutdown checkpoint at {}: the copy "
                            "was still being read when the primary wrote again, and nothing bounds what else it "
                            "holds; take a new base backup",
                            e.pages.max->file, e.pages.max->block, FormatLsn(e.pages.max->lsn), FormatLsn(c.lsn));
    return p;
  }
  p.evidence.push_back(e.pages.max ? fmt::format("no data page carries an LSN past it: the largest, {}, is on {} "
                                                 "block {}",
                                                 FormatLsn(e.pages.max->lsn), e.pages.max->file, e.pages.max->block)
                                   : std::string("no data page carries an LSN"));
  for (const FileFinding& f : e.pages.structural) {
    if (f.problem != FileProblem::kUnreadable && f.problem != FileProblem::kNotAFile) continue;
    p.missing = fmt::format("{} could not be read ({}): the page LSNs do not cover the whole copy", f.file,
                            f.message);
    return p;
  }
  if (e.pages.invalid_pages > 0) {
    p.evidence.push_back(fmt::format("{} page(s) fail their checks (a page torn by the copy is one; replay writes "
                                     "it whole again from its full-page image)",
                                     e.pages.invalid_pages));
  }
  size_t files = 0;
  const auto first_start = FirstStart(*e.dir);
  const auto newer = FilesNewerThan(e, p.shutdown_time, first_start, &files);
  if (!newer.empty()) {
    p.missing = fmt::format("{} file(s) were modified after the primary's shutdown ({}), such as {} at "
                            "{}: the copy was still being read when the primary wrote again; take a new base "
                            "backup",
                            newer.size(), FormatIsoUtc(p.shutdown_time), newer.front().first,
                            FormatIsoUtc(newer.front().second));
    return p;
  }
  p.evidence.push_back(fmt::format("none of the {} relation and commit-status files was modified after the "
                                   "shutdown{}",
                                   files,
                                   first_start ? fmt::format(" and before the copy's own first start ({})",
                                                             FormatIsoUtc(*first_start))
                                               : std::string()));
  p.proven = true;
  return p;
}

}  // namespace pgrescue
