#include "libcontrol/plan/remedies.h"

#include <fmt/format.h>

namespace pgrescue {
namespace {

std::string StartCommand(const RemedyFacts& f) { return "pg_ctl -D " + ShellQuote(f.data_dir) + " start"; }

// Pages written past the end of WAL mean WAL the server flushed is gone:
// recovery ends before their LSNs and every later checkpoint fails.
bool PagesPastWal(const RemedyFacts& f) { return f.max_page_lsn && f.wal_end && *f.max_page_lsn > *f.wal_end; }

std::string PagesNote(const RemedyFacts& f) {
  return fmt::format("data pages carry LSNs up to {} ({}), past the end of valid WAL at {}: the WAL in between "
                     "is lost, and crash recovery would end before those pages' changes",
                     FormatLsn(*f.max_page_lsn), f.max_page_where, FormatLsn(*f.wal_end));
}

Remedy Wait(const RemedyFacts& f) {
  Remedy r{"wait", "Stop or wait for every process that still uses the data directory, then plan again",
           "nothing; acting now could lose what they still write", {}, {}};
  for (const auto& u : f.users) r.reasons.push_back(u);
  r.reasons.push_back("PostgreSQL itself refuses to start while they run, and no file may be changed under them");
  return r;
}

// Recovery stops at the first unreadable record: WAL written past it is
// never replayed, whatever starts the recovery.
void LosesWalPastEnd(const RemedyFacts& f, Remedy* r) {
  if (f.wal_past_end.empty()) return;
  r->loses = f.wal_past_end;
  r->reasons.push_back("keep a copy of pg_wal before starting: the WAL past the break is the only record of those "
                       "commits");
}

Remedy StartServer(const RemedyFacts& f) {
  Remedy r{"start-server", "Start the server: its crash recovery repairs this", "nothing", {StartCommand(f)}, {}};
  if (f.shut_down_cleanly) {
    r.summary = "Start the server: it was shut down cleanly";
    r.reasons.push_back(fmt::format("pg_control says \"shut down\" at checkpoint {}, and that record is in WAL",
                                    FormatLsn(*f.control_checkpoint)));
  } else {
    r.reasons.push_back(fmt::format("pg_control's checkpoint {} is in WAL, and every record from its redo point "
                                    "to the end of valid WAL at {} ({}) is readable: crash recovery replays them",
                                    FormatLsn(*f.control_checkpoint), FormatLsn(*f.wal_end), f.wal_end_reason));
  }
  if (f.xact_missing) {
    r.reasons.push_back("only once pg_xact covers the XIDs in use again (a remedy above): before that, every read "
                        "of a row that needs the lost status fails, and the server writes new pg_xact pages into "
                        "the gap");
    // Seen on 10-18 (fixtures/server-logs/xact-missing/*.crash.log): 100 of 1,100 rows left, no error.
    if (!f.shut_down_cleanly) {
      r.loses = "nothing once pg_xact is back; started before, crash recovery reads the missing pg_xact pages as "
                "zeroes (\"doesn't exist, reading as zeroes\") and the rows of those transactions vanish without "
                "an error";
    }
  }
  if (f.stale_pid_file) {
    r.reasons.push_back("postmaster.pid names no running process and nothing else uses the directory: the "
                        "server replaces such a stale lock file itself");
  }
  if (f.invalid_pages > 0) {
    r.loses = fmt::format("nothing at start; {} data page(s) fail their checks and every query that reads them "
                          "fails until they are dealt with",
                          f.invalid_pages);
  }
  LosesWalPastEnd(f, &r);
  return r;
}

Remedy RecoverBackup(const RemedyFacts& f) {
  Remedy r{"recover-backup", "", "", {}, f.backup_evidence};
  if (!f.backup_wal_readable) {
    r.summary = fmt::format("Supply the WAL from {} on (from the WAL archive or the primary's pg_wal) and let "
                            "recovery replay from the backup's start",
                            f.backup_start_segment.empty() ? "the backup's start" : f.backup_start_segment);
    r.loses = "nothing, once the WAL is there; without it the copy cannot be made consistent";
    r.reasons.push_back(fmt::format("the WAL from the backup's start {} to a clean end is not all in pg_wal or "
                                    "the archives given", f.backup_start ? FormatLsn(*f.backup_start) : "?"));
    return r;
  }
  r.summary = "Keep the backup's state and let recovery replay from the backup's start";
  r.loses = fmt::format("nothing that WAL holds: recovery replays from {} to the end of valid WAL at {} ({})",
                        FormatLsn(*f.backup_start), FormatLsn(*f.wal_end), f.wal_end_reason);
  if (f.backup_end_record_required) {
    // A non-exclusive backup ends at its end-of-backup record; crash recovery
    // without recovery.signal stops with "WAL ends before end of online backup".
    r.reasons.push_back("pg_control requires an end-of-backup record: archive recovery (recovery.signal, with "
                        "restore_command or the WAL in pg_wal) replays to it and then promotes");
    if (f.signal_files.empty()) {
      r.summary += "; recovery.signal must be present (archive recovery), with the WAL in pg_wal or restore_command";
      r.commands.push_back("touch " + ShellQuote(f.data_dir + "/recovery.signal"));
    }
  } else {
    for (const auto& s : f.signal_files) {
      if (s == "recovery.conf") {
        r.commands.push_back("mv " + ShellQuote(f.data_dir + "/recovery.conf") + " " +
                             ShellQuote(f.data_dir + "/recovery.conf.pgrescue-saved"));
      } else {
        r.commands.push_back("rm " + ShellQuote(f.data_dir + "/" + s));
      }
      r.reasons.push_back(s + " asks for archive recovery, which stops at the primary's shutdown checkpoint "
                          "(\"online backup was canceled\") when no end-of-backup record follows; crash recovery "
                          "replays all of pg_wal instead");
    }
  }
  r.commands.push_back(StartCommand(f));
  if (f.skipped_newer_checkpoint) {
    r.reasons.push_back(fmt::format("WAL holds a newer checkpoint at {}, but starting there would skip the WAL "
                                    "that makes the copied pages consistent",
                                    FormatLsn(*f.skipped_newer_checkpoint)));
  }
  return r;
}

// Recovery of the copy runs as the DBA set it up (recovery.signal or
// recovery.conf with restore_command): it now ends at the backup's end,
// reaches consistency, and promotes at the end of the archive.
Remedy FinishBackup(const RemedyFacts& f) {
  std::string command = "pgrescue-reset --finish-backup";
  for (const auto& a : f.wal_archives) command += " --wal-archive " + ShellQuote(a);
  Remedy r{"finish-backup",
           fmt::format("Finish the canceled backup: mark the end of the primary's shutdown checkpoint, {}, as the "
                       "backup's end in pg_control, and start the copy's recovery again",
                       FormatLsn(*f.backup_end_point)),
           "nothing: the copy holds nothing written after the primary's shutdown, and recovery replays every "
           "record up to it, as an end-of-backup record there would have made it",
           {command + " -D " + ShellQuote(f.data_dir), StartCommand(f)},
           f.backup_end_evidence};
  r.reasons.push_back("the copy's recovery settings stay as they are: archive recovery (restore_command) replays "
                      "to the end of the archive and promotes; pg_control's old bytes are kept for --undo");
  if (f.signal_files.empty()) {
    r.reasons.push_back("the copy must ask for archive recovery as it did before: recovery.signal with "
                        "restore_command reading the archive (recovery.conf up to 11)");
  }
  return r;
}

// A standby's recovery never ends by design; promoting it (removing
// standby.signal) would fork it from its primary for good.
Remedy ResumeStandby(const RemedyFacts& f) {
  Remedy r{"resume-standby",
           "This is a standby: keep its standby settings and start it; it replays its primary's WAL",
           "nothing; removing standby.signal (or standby_mode) instead would promote it into a primary of its own, "
           "forked from its primary",
           {StartCommand(f)},
           f.backup_evidence};
  r.reasons.push_back("if it stops with \"requested WAL segment ... has already been removed\", its primary no longer "
                      "keeps the WAL it needs: set restore_command to read the primary's WAL archive, or rebuild it "
                      "from a new base backup (pg_basebackup); a reset never fixes a standby");
  return r;
}

Remedy RestartPrimary(const RemedyFacts& f) {
  const std::string label = f.data_dir + "/backup_label";
  Remedy r{"restart-primary",
           fmt::format("This is the primary that crashed inside pg_start_backup(): move backup_label aside and start "
                       "it; crash recovery replays from its own checkpoint at {}",
                       FormatLsn(*f.control_checkpoint)),
           "nothing: this directory is the primary itself, and crash recovery from its own checkpoint replays "
           "everything after it",
           {"mv " + ShellQuote(label) + " " + ShellQuote(label + ".pgrescue-saved"), StartCommand(f)},
           f.crashed_primary_evidence};
  r.reasons.push_back("while backup_label is there the server replays from the backup's checkpoint, whose WAL is "
                      "gone: it stops with \"could not locate required checkpoint record\"");
  LosesWalPastEnd(f, &r);
  return r;
}

Remedy FromWal(const RemedyFacts& f) {
  const std::string command = fmt::format("pgrescue-reset {}--from-wal -D {}",
                                          f.control_rebuild_needed ? "--rebuild " : "", ShellQuote(f.data_dir));
  Remedy r{"from-wal",
           fmt::format("Point pg_control at the checkpoint at {} in WAL and start the server: crash recovery "
                       "replays the rest", FormatLsn(*f.from_wal_checkpoint)),
           fmt::format("nothing that WAL holds: recovery replays to the end of valid WAL at {} ({})",
                       FormatLsn(*f.wal_end), f.wal_end_reason),
           {command, StartCommand(f)},
           {}};
  if (f.control_rebuild_needed) {
    r.reasons.push_back("pg_control is missing or unusable; --rebuild builds it from the cluster's files");
  } else if (!f.control_problem.empty()) {
    r.reasons.push_back(f.control_problem);
  }
  r.reasons.push_back(fmt::format("the checkpoint at {} and every record from its redo point are readable",
                                  FormatLsn(*f.from_wal_checkpoint)));
  LosesWalPastEnd(f, &r);
  return r;
}

// The server refuses to assign XIDs near wraparound until VACUUM has frozen
// the oldest rows of every database; single-user mode may still assign them
// (every version from 9.4 on). A reset would move the counters past rows it
// cannot freeze: never that.
Remedy Vacuum(const RemedyFacts& f) {
  Remedy r{"vacuum",
           "Vacuum every database in single-user mode: it freezes the oldest rows and moves the oldest XID forward, "
           "then start the server",
           "nothing: VACUUM freezes rows and removes only dead ones",
           {},
           {*f.xid_wrap_near}};
  const std::vector<std::string> fallback{"template1", "postgres"};
  for (const auto& db : f.databases.empty() ? fallback : f.databases) {
    r.commands.push_back(fmt::format("echo VACUUM | postgres --single -D {} {}", ShellQuote(f.data_dir),
                                     ShellQuote(db)));
  }
  r.commands.push_back(StartCommand(f));
  r.reasons.push_back(f.databases.empty()
                          ? "pg_database could not be read: vacuum every database it holds, template0 included"
                          : "single-user mode connects to template0 too, which accepts no other connections");
  r.reasons.push_back("within a few million XIDs of wraparound the server refuses every command that assigns a "
                      "transaction ID until this is done (before that, it warns); resetting WAL or the XID counter "
                      "is never the remedy");
  return r;
}

// Recovery cannot bring back files a copy never received, and a rebuilt
// pg_control would only hide that they are missing.
Remedy NewBackup(const RemedyFacts& f) {
  return Remedy{"new-backup",
                "Take a new base backup: this copy never finished, and nothing done to it in place can complete it",
                "nothing of the primary's; this copy is unusable: files after the break are missing",
                {},
                {f.backup_evidence.empty() ? std::string("backup_label is there, global/pg_control is not")
                                           : f.backup_evidence.back(),
                 "a reset, --rebuild or --from-wal would start a server on a partial copy: tables would be missing "
                 "or short without an error"}};
}

Remedy RestoreXact(const RemedyFacts& f) {
  return Remedy{"restore-xact",
                "Restore the missing pg_xact segments from a backup of this cluster before anything else",
                "nothing, if a backup holds them; a reset does not bring commit status back",
                {},
                {*f.xact_missing}};
}

// Before the server starts: a started server writes new pg_xact pages of its
// own into the gap, and any reader fails on the rows that need the rest.
Remedy RebuildXact(const RemedyFacts& f) {
  const auto& x = *f.xact_rebuild;
  Remedy r{"rebuild-xact", "Rebuild the missing pg_xact pages from the evidence the cluster holds, before anything else",
           "", {}, {*f.xact_missing}};
  const std::string decided = fmt::format("{} of the {} XID(s) rows depend on are decided ({})", x.needed - x.unknown,
                                          x.needed, x.by_source.empty() ? "no evidence" : x.by_source);
  if (!x.pages_unread.empty()) {
    r.loses = fmt::format("unknown: {}, so rows that need a lost status may not all have been seen; the dry run "
                          "shows what the evidence decides",
                          x.pages_unread);
    r.commands.push_back("pgrescue-reset --rebuild-xact -n -D " + ShellQuote(f.data_dir));
  } else if (x.unknown == 0) {
    r.loses = "nothing: " + decided;
    r.commands.push_back("pgrescue-reset --rebuild-xact -D " + ShellQuote(f.data_dir));
  } else {
    r.loses = fmt::format("the true outcome of {} XID(s) no evidence decides{}, in {} relation(s): their rows follow "
                          "the --unknown choice (committed or aborted); the dry run shows per table the rows each "
                          "choice gives. {}",
                          x.unknown, x.contradictions ? fmt::format(" ({} with contradicting evidence)", x.contradictions)
                                                      : "",
                          x.relations, decided);
    r.commands.push_back("pgrescue-reset --rebuild-xact -n -D " + ShellQuote(f.data_dir));
  }
  return r;
}

Remedy Reset(const RemedyFacts& f) {
  Remedy r{"reset", "Reset the WAL with values derived from the cluster's files", "", {f.reset_command}, {}};
  std::string loses;
  for (const auto& l : f.reset_loses) loses += (loses.empty() ? "" : "; ") + l;
  r.loses = loses.empty() ? "every change whose WAL is gone" : loses;
  r.reasons.push_back("no checkpoint in WAL can be started from");
  if (PagesPastWal(f)) r.reasons.push_back(PagesNote(f));
  r.reasons.push_back("a reset can leave the data inconsistent: dump the cluster right after it starts, and "
                      "check it");
  return r;
}

}  // namespace

std::vector<Remedy> RankRemedies(const RemedyFacts& f) {
  std::vector<Remedy> out;
  if (!f.users.empty()) out.push_back(Wait(f));
  // Commit status comes back first: nothing may start while rows need it.
  if (f.xact_missing) {
    const bool rebuild_is_lossless =
        f.xact_rebuild && f.xact_rebuild->unknown == 0 && f.xact_rebuild->pages_unread.empty();
    if (rebuild_is_lossless) out.push_back(RebuildXact(f));
    out.push_back(RestoreXact(f));
    if (f.xact_rebuild && !rebuild_is_lossless) out.push_back(RebuildXact(f));
  }
  if (f.copy_unfinished) {
    out.push_back(NewBackup(f));
    return out;
  }
  const bool pages_past_wal = PagesPastWal(f);
  bool recovery_offered = false;
  // A proved end makes the copy's own recovery work as set up; crash
  // recovery instead reads only pg_wal, which a copy rarely holds in full.
  if (f.backup_recovering && f.backup_end_point) {
    out.push_back(FinishBackup(f));
    recovery_offered = true;
  } else if (f.crashed_primary && !f.backup_wal_readable && f.control_checkpoint) {
    out.push_back(RestartPrimary(f));
    recovery_offered = true;
  } else if (f.standby) {
    // Nothing done to a standby in place beats rebuilding it from its primary.
    out.push_back(ResumeStandby(f));
    recovery_offered = true;
  } else if (f.backup_recovering && f.backup_start) {
    out.push_back(RecoverBackup(f));
    recovery_offered = f.backup_wal_readable;
  } else if (f.crash_recovery_works && !pages_past_wal) {
    // Single-user mode starts the way the server does: only once it can.
    if (f.xid_wrap_near) out.push_back(Vacuum(f));
    out.push_back(StartServer(f));
    recovery_offered = true;
  }
  if (!recovery_offered && f.from_wal_checkpoint && f.wal_end && !pages_past_wal) {
    out.push_back(FromWal(f));
    recovery_offered = true;
  }
  if (!recovery_offered && !f.reset_command.empty()) out.push_back(Reset(f));
  return out;
}

}  // namespace pgrescue
