#include "libcontrol/plan/plan_steps.h"

#include <map>
#include <set>

#include <fmt/format.h>

#include "libcontrol/base/wal_names.h"
#include "libcontrol/catalogs/relation_names.h"
#include "libcontrol/control/control_text.h"
#include "libcontrol/plan/backup_end.h"
#include "libcontrol/plan/backup_origin.h"
#include "libcontrol/plan/remedies.h"
#include "libcontrol/plan/xact_evidence.h"

namespace pgrescue {

void BuildCommands(const PlanEvidence& e, Plan* plan) {
  std::string options;
  if (plan->needs_force) options += " -f";
  for (const auto& v : plan->values) {
    if (v.in_command && !v.value.empty()) options += " " + v.option + " " + v.value;
  }
  options += " -D " + ShellQuote(e.dir->root);
  plan->command = std::string(e.layout->reset_tool()) + options;
  plan->pgrescue_command =
      std::string("pgrescue-reset") + (ControlNeedsRebuild(*e.dir) ? " --rebuild" : "") + options;
}

namespace {

// What --rebuild-xact would decide, counted over the XIDs whose pg_xact
// page is gone.
RemedyFacts::XactRebuildFacts XactRebuildFactsFor(const PlanEvidence& e) {
  RemedyFacts::XactRebuildFacts x;
  // Unread pages leave the rebuild's loss unknown whatever the evidence
  // says: its dry run tells the rest, and the plan spares a full WAL read.
  if (e.pages.files == 0) {
    x.pages_unread = "no relation file was read";
  } else if (!e.pages_complete) {
    x.pages_unread = fmt::format("{} damaged page(s) and {} problem(s) with relation files kept rows from being read",
                                 e.pages.invalid_pages, e.pages.structural.size());
  }
  if (!x.pages_unread.empty()) return x;
  auto evidence = GatherXactEvidence(*e.dir, *e.control, 2);
  if (!evidence) return x;
  std::map<uint8_t, uint64_t> by;
  std::set<uint32_t> unknown;
  for (const auto& [xid, d] : evidence->decisions) {
    if (d.from_pg_xact || !d.needed) continue;
    ++x.needed;
    if (d.verdict == XactVerdict::kUnknown) {
      ++x.unknown;
      unknown.insert(xid);
      x.contradictions += d.contradiction() ? 1 : 0;
      continue;
    }
    for (uint8_t s : xact_source::kAll) by[s] += (d.sources() & s) ? 1 : 0;
  }
  for (uint8_t s : xact_source::kAll) {
    if (by[s] != 0) x.by_source += fmt::format("{}{} {}", x.by_source.empty() ? "" : ", ", XactSourceName(s), by[s]);
  }
  for (const auto& [path, shapes] : evidence->shapes) {
    for (const auto& [shape, n] : shapes) {
      if ((shape.first < kSettledYes && unknown.count(static_cast<uint32_t>(shape.first))) ||
          (shape.second < kSettledYes && unknown.count(static_cast<uint32_t>(shape.second)))) {
        ++x.relations;
        break;
      }
    }
  }
  return x;
}

}  // namespace

void RankPlanRemedies(const PlanEvidence& e, const std::optional<std::string>& xact_missing, Plan* plan) {
  const DataDir& dir = *e.dir;
  RemedyFacts f;
  f.data_dir = dir.root;
  if (dir.live.in_use()) f.users = dir.live.Describe();
  f.stale_pid_file = dir.postmaster_pid && !dir.live.in_use() && !dir.live.writer_lock();
  f.crash_recovery_works = e.crash_recovery_works;
  f.shut_down_cleanly = e.control && e.Pc(Field::kState) == static_cast<uint64_t>(DbState::kShutdowned);
  if (e.control) f.control_checkpoint = Lsn{e.Pc(Field::kCheckPoint)};
  f.control_problem = e.control_problem;
  f.control_rebuild_needed = ControlNeedsRebuild(dir);
  if (e.wal) {
    f.wal_end = e.wal->end.at;
    f.wal_end_reason = std::string(WalStopName(e.wal->end.why));
    if (const auto& past = e.wal->past_end) f.wal_past_end = DescribeWalPastEnd(*past, e.wal->end);
  }
  f.from_wal_checkpoint = e.from_wal;
  f.skipped_newer_checkpoint = e.skipped_newer;
  f.backup_recovering = e.backup.recovering;
  f.backup_start = e.backup.newest_start;
  f.backup_wal_readable = e.backup_wal_readable;
  f.backup_end_record_required = e.backup.end_record_required;
  f.backup_evidence = e.backup.evidence;
  f.copy_unfinished = e.backup.copy_unfinished;
  if (e.backup.recovering) {
    const BackupEndProof proof = ProveBackupEnd(e);
    if (proof.proven) {
      f.backup_end_point = proof.end_point;
      f.backup_end_evidence = proof.evidence;
    }
  }
  for (const auto& a : dir.wal_archives) f.wal_archives.push_back(a.path);
  if (const BackupOrigin origin = JudgeBackupOrigin(e); origin.crashed_primary) {
    f.crashed_primary = true;
    f.crashed_primary_evidence = origin.evidence;
  }
  if (e.backup.newest_start) {
    const uint32_t tli = e.control ? static_cast<uint32_t>(e.Pc(Field::kThisTimeLineId)) : e.wal ? e.wal->timeline : 1;
    f.backup_start_segment =
        SegmentNameFor(tli, *e.backup.newest_start, e.segment_size()).ToString(e.segment_size());
  }
  if (dir.recovery_signal) f.signal_files.push_back("recovery.signal");
  if (dir.standby_signal) f.signal_files.push_back("standby.signal");
  if (dir.recovery_conf) f.signal_files.push_back("recovery.conf");
  f.standby = dir.standby;
  if (e.pages.max) {
    f.max_page_lsn = e.pages.max->lsn;
    f.max_page_where = fmt::format("{} block {}", e.pages.max->file, e.pages.max->block);
  }
  f.invalid_pages = e.pages.invalid_pages;
  f.xact_missing = xact_missing;
  if (xact_missing && e.control) f.xact_rebuild = XactRebuildFactsFor(e);
  if (const auto wrap = JudgeXidWrap(e); wrap && wrap->near) {
    f.xid_wrap_near = wrap->line;
    f.databases = DatabaseNames(dir.root, *e.layout, e.block_size());
  }
  f.reset_command = plan->pgrescue_command;
  if (e.control) {
    f.reset_loses.push_back(fmt::format("every change after pg_control's checkpoint (redo {}) whose WAL is not "
                                        "replayed", FormatLsn(Lsn{e.Pc(Field::kRedo)})));
  } else {
    f.reset_loses.push_back("every change whose WAL is not replayed; pg_control's own values are gone");
  }
  if (e.wal && e.wal->maxima.last_commit_time) {
    f.reset_loses.push_back(fmt::format("WAL that survives up to {} (last commit XID {} at {}) is discarded",
                                        FormatLsn(e.wal->end.at), e.wal->maxima.last_commit_xid,
                                        FormatPgTimestamp(*e.wal->maxima.last_commit_time)));
  }
  if (xact_missing) {
    f.reset_loses.push_back("the commit status pg_xact lost stays lost: the server starts, but any query that "
                            "reads a row those transactions wrote fails with \"could not access status of "
                            "transaction\"; the system catalogs hold such rows too, so connections can fail "
                            "until pg_xact is restored");
  }
  plan->remedies = RankRemedies(f);
  // A stale lock file stops pg_resetwal and pgrescue-reset; the liveness
  // check found nothing using the directory, so removing it is safe.
  if (f.stale_pid_file) {
    for (auto& r : plan->remedies) {
      if (r.code == "reset" || r.code == "from-wal") {
        r.commands.insert(r.commands.begin(), "rm " + ShellQuote(dir.root + "/postmaster.pid"));
      }
    }
  }
}

}  // namespace pgrescue
