#include "libcontrol/plan/hazards.h"

#include <fmt/format.h>

#include "libcontrol/control/control_text.h"
#include "libcontrol/plan/derive_common.h"
#include "libcontrol/plan/remedies.h"

namespace pgrescue {
namespace {

void Force(Plan* plan, std::string why) {
  plan->needs_force = true;
  plan->force_reasons.push_back(std::move(why));
}

void LivenessHazards(const DataDir& dir, std::vector<Hazard>* h) {
  const LiveCheck& live = dir.live;
  if (live.in_use()) {
    std::string list;
    for (const auto& u : live.Describe()) list += (list.empty() ? "" : "; ") + u;
    const std::string server = live.PostgresWouldSay();
    Decide(h, live.postmaster_alive ? "live-postmaster" : "directory-in-use",
           fmt::format("the data directory is still in use: {}.{} Stop the server (pg_ctl stop) or wait for "
                       "these processes to end; nothing may be changed while they run, or what they still "
                       "write is lost",
                       list, server.empty() ? "" : " PostgreSQL itself would refuse to start: \"" + server + "\"."));
  } else if (live.stale_writer_lock()) {
    Decide(h, "stale-pgrescue-lock",
           fmt::format("postmaster.pid is the lock of pgrescue PID {} ({}), which stopped before it finished: the "
                       "data directory may be part-way through its changes. Run `pgrescue-reset --undo -D {}` "
                       "first: it puts back what that run changed and removes the lock",
                       *live.pid_file->writer_pid, live.pid_file->writer_command, ShellQuote(dir.root)));
  } else if (dir.postmaster_pid) {
    const std::string first_line = live.pid_file ? live.pid_file->text_first_line : "";
    Inform(h, "stale-postmaster-pid",
           fmt::format("postmaster.pid names PID {}, which is not running, and no process uses the directory or "
                       "its shared memory: a lock file left by a crash. The server replaces it when it starts; "
                       "pg_resetwal refuses while it exists",
                       first_line.empty() ? "(unreadable)" : first_line));
  }
  if (dir.backup_label && !dir.control_present) {
    Decide(h, "unfinished-copy",
           "backup_label is there and global/pg_control is not: a base backup copy that stopped before its end "
           "(pg_basebackup sends pg_control last); other files are missing too. Take a new base backup: no reset "
           "or rebuilt pg_control can complete it");
  } else if (dir.backup_label) {
    Decide(h, "backup-label",
           "backup_label exists: this is a base backup, or a server that crashed during an exclusive "
           "backup. Recovering it with its WAL (restore_command or the WAL from the backup) keeps all "
           "data; a reset does not. If you reset anyway, rename backup_label to backup_label.old first");
  }
  if (dir.tablespace_map) Inform(h, "tablespace-map", "tablespace_map exists: it belongs to a base backup");
  if (dir.standby) {
    Inform(h, "recovery-config",
           fmt::format("{}: this is a standby, following its primary; keep it: removing it promotes the server "
                       "into a primary of its own",
                       dir.standby_signal ? "standby.signal present" : "recovery.conf says standby_mode = on"));
  } else if (dir.recovery_signal || dir.standby_signal || dir.recovery_conf) {
    Inform(h, "recovery-config",
           fmt::format("{} present: the server would start in recovery; remove it after a reset unless "
                       "archive recovery is what you want",
                       dir.recovery_conf    ? "recovery.conf"
                       : dir.standby_signal ? "standby.signal"
                                            : "recovery.signal"));
  }
}

void ControlHazards(const PlanEvidence& e, Plan* plan) {
  const DataDir& dir = *e.dir;
  auto* h = &plan->hazards;
  if (!dir.control_present) {
    Decide(h, "control-missing",
           "global/pg_control is missing: the server cannot start. Every value below comes from the "
           "other files; pg_resetwal then needs an empty global/pg_control (touch it) and -f, and "
           "guesses what is not given");
    Force(plan, "pg_control is missing, so pg_resetwal guesses the values not given");
    return;
  }
  if (!dir.control->ok()) {
    Decide(h, "control-unusable", fmt::format("global/pg_control cannot be read: {}", dir.control->error().message));
    Force(plan, "pg_control cannot be read, so pg_resetwal guesses the values not given");
    return;
  }
  const auto& read = dir.control->value();
  const ControlLayout& layout = *e.layout;
  if (&read.control.layout() != &layout) {
    Decide(h, "version-mismatch",
           fmt::format("PG_VERSION says {} but pg_control has PostgreSQL {}'s layout: one of them is "
                       "wrong. Planned for {} (PG_VERSION); pg_control's values are not used",
                       layout.major(), read.control.layout().major(), layout.major()));
    Force(plan, "pg_control is of another version");
    return;
  }
  for (const auto& f : read.findings) {
    if (f.kind == FindingKind::kCrcMismatch || f.kind == FindingKind::kImplausibleValue) {
      Decide(h, "control-corrupt", "global/pg_control: " + f.message + "; its values are shown but not trusted");
    } else {
      Inform(h, "control-note", "global/pg_control: " + f.message);
    }
  }
  if (!e.control) {
    Force(plan, "pg_control is damaged, so pg_resetwal treats its values as guessed");
    return;
  }
  const uint64_t state = e.Pc(Field::kState);
  if (state != static_cast<uint64_t>(DbState::kShutdowned)) {
    const bool in_recovery = state == static_cast<uint64_t>(DbState::kShutdownedInRecovery);
    Decide(h, "unclean-state",
           in_recovery ? std::string("pg_control says \"shut down in recovery\": a standby or an archive recovery "
                                     "was stopped before it ended. Starting it resumes recovery and loses nothing: "
                                     "try that before a reset")
                       : fmt::format("pg_control says the cluster is \"{}\", not shut down: the server stopped "
                                     "without a shutdown checkpoint. If its WAL is intact, starting it runs crash "
                                     "recovery and loses nothing: try that before a reset",
                                     DbStateText(state)));
    Force(plan, "the cluster was not shut down cleanly");
  }
  if (BackupRecoveryUnfinished(*e.control)) {
    Decide(h, "backup-in-progress",
           fmt::format("pg_control records a backup start at {} with {}: the cluster is a restored "
                       "backup whose recovery has not reached the backup's end. Finish recovery with "
                       "the backup's WAL instead of a reset if at all possible",
                       FormatLsn({e.Pc(Field::kBackupStartPoint)}, layout.text().lsn_style),
                       e.Pc(Field::kBackupEndPoint) == 0 ? "no end" : "an end-of-backup record still required"));
  }
}

void WalHazards(const PlanEvidence& e, std::vector<Hazard>* h) {
  if (!e.wal) return;
  if (e.from_wal && !e.backup.copy_unfinished) {
    const bool has_pc = e.control != nullptr;
    Inform(h, "wal-checkpoint-usable",
           fmt::format("WAL holds a checkpoint record at {} whose redo point and every record after it up to {} "
                       "are readable{}: instead of a reset, which loses every transaction after the checkpoint, "
                       "`pgrescue-reset {}--from-wal -D {}` points pg_control at it and the server's crash "
                       "recovery replays the rest",
                       FormatLsn(*e.from_wal), FormatLsn(e.wal->end.at),
                       has_pc ? fmt::format(" (pg_control points at {})", FormatLsn(Lsn{e.Pc(Field::kCheckPoint)}))
                              : "",
                       has_pc ? "" : "--rebuild ", ShellQuote(e.dir->root)));
  }
  if (e.skipped_newer) {
    Decide(h, "backup-start",
           fmt::format("WAL holds a usable checkpoint at {}, newer than the backup's start {}: starting there "
                       "would skip the WAL that makes the copied pages consistent, and rows would go missing "
                       "without an error. Recovery must replay from the backup's start",
                       FormatLsn(*e.skipped_newer), FormatLsn(*e.backup.newest_start)));
  }
}

void PageHazards(const PlanEvidence& e, std::vector<Hazard>* h) {
  const PageScanReport& r = e.pages;
  if (r.invalid_pages > 0) {
    std::string examples;
    for (const auto& x : r.DamagedExamples(10)) examples += (examples.empty() ? "" : "; ") + x;
    Inform(h, "invalid-pages",
           fmt::format("{} data page(s) fail PostgreSQL's page checks ({}); their LSNs are not trusted. The "
                       "server starts, but queries reading them fail with \"invalid page\" errors",
                       r.invalid_pages, examples));
  }
  for (const auto& note : r.structural) Inform(h, "relation-file", note.message);
  if (r.max && e.wal && r.max->lsn > e.wal->end.at) {
    Decide(h, "page-lsn-beyond-wal",
           fmt::format("data pages carry LSNs up to {} ({} block {}), past the end of valid WAL at {}: WAL the "
                       "server had flushed is gone. Crash recovery would end before those pages' changes and "
                       "every later checkpoint would fail (\"xlog flush request … is not satisfied\"); the new "
                       "WAL must start past {}",
                       FormatLsn(r.max->lsn), r.max->file, r.max->block, FormatLsn(e.wal->end.at),
                       FormatLsn(r.max->lsn)));
  }
}

void SlruHazards(const PlanEvidence& e, const SlruEvidence& s, SlruKind kind, std::vector<Hazard>* h) {
  if (!s.unknown.empty()) {
    std::string names;
    for (size_t i = 0; i < s.unknown.size() && i < 10; ++i) names += (i ? ", " : "") + s.unknown[i];
    if (s.unknown.size() > 10) names += fmt::format(" and {} more", s.unknown.size() - 10);
    Inform(h, "unknown-files",
           fmt::format("{} holds files that are not {} segments, ignored: {}", s.dir, SlruKindName(kind), names));
  }
  // Holes no tuple needs (a pg_resetwal -x jump) are said in -x's reasoning.
  const std::vector<SegmentSpan> holes = SplitHoles(e, s).needed;
  if (!holes.empty()) {
    Decide(h, "slru-holes",
           fmt::format("{} is missing {} segment(s) inside its run {}–{}: {}. The {} they held are lost; "
                       "rows that need them will fail with \"could not access status\" errors",
                       s.dir, SegmentCount(holes), s.layout->FileName(s.run->first), s.layout->FileName(s.run->last),
                       SegmentRanges(s, holes), SlruKindName(kind)));
  }
}

}  // namespace

void EvidenceHazards(const PlanEvidence& e, Plan* plan) {
  auto* h = &plan->hazards;
  LivenessHazards(*e.dir, h);
  ControlHazards(e, plan);
  if (e.geometry.block_size_assumed) {
    Decide(h, "block-size-assumed", "the block size could not be read anywhere; 8192 is assumed. A build "
                                    "with another block size makes every SLRU value below wrong");
  }
  if (e.geometry.segment_size_assumed) {
    Decide(h, "segment-size-assumed", "the WAL segment size could not be read anywhere; 16 MB is assumed. "
                                      "With another size the -l file name is wrong");
  }
  WalHazards(e, h);
  PageHazards(e, h);
  SlruHazards(e, e.xact, SlruKind::kXact, h);
  SlruHazards(e, e.offsets, SlruKind::kMultiXactOffsets, h);
  SlruHazards(e, e.members, SlruKind::kMultiXactMembers, h);
  if (e.commit_ts.layout) SlruHazards(e, e.commit_ts, SlruKind::kCommitTs, h);
}

void LivenessCaveats(const PlanEvidence& e, std::vector<Hazard>* hazards) {
  for (const auto& l : e.dir->live.limits) Inform(hazards, "liveness-unchecked", "could not check every process: " + l);
}

}  // namespace pgrescue
