// What a DBA can do about a cluster that will not start, least destructive
// first, each with what it loses. "Start the server" is a remedy: crash
// recovery loses nothing, so a reset is offered only where no recovery from
// WAL can work. The facts come from the planner's evidence; this file only
// ranks them, so the ranking can be tested on its own.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "libcontrol/base/shell_words.h"
#include "libcontrol/base/lsn.h"

namespace pgrescue {

struct Remedy {
  std::string code;      // wait, rebuild-xact, restore-xact, start-server, vacuum, new-backup, finish-backup, restart-primary, resume-standby, recover-backup, from-wal, reset
  std::string summary;   // one sentence: what to do
  std::string loses;     // what it loses, measured from the evidence
  std::vector<std::string> commands;  // to run in order; empty when it takes a human
  std::vector<std::string> reasons;   // the evidence behind it
};

struct RemedyFacts {
  std::string data_dir;
  std::vector<std::string> users;       // processes still using the directory: "PID 123 (…): how"
  bool stale_pid_file = false;
  // pg_control trusted and its checkpoint usable: crash recovery replays to the end of WAL.
  bool crash_recovery_works = false;
  bool shut_down_cleanly = false;
  std::optional<Lsn> control_checkpoint;  // when trusted
  std::string control_problem;            // why crash recovery cannot start from it
  bool control_rebuild_needed = false;   // missing or unusable pg_control
  std::optional<Lsn> wal_end;
  std::string wal_end_reason;
  // WAL written past that end (wal_scan.h WalPastEnd), which no recovery
  // replays: what it holds, or empty when there is none.
  std::string wal_past_end;
  std::optional<Lsn> from_wal_checkpoint;   // newest usable checkpoint --from-wal may choose
  std::optional<Lsn> skipped_newer_checkpoint;  // a newer usable one a backup forbids
  // A backup copy or mid-recovery.
  bool backup_recovering = false;
  std::optional<Lsn> backup_start;          // the newest checkpoint recovery may start from
  bool backup_wal_readable = false;         // from there to the end of WAL
  bool backup_end_record_required = false;  // archive recovery must reach an end-of-backup record
  std::vector<std::string> backup_evidence;
  std::vector<std::string> signal_files;    // recovery.signal, standby.signal, recovery.conf present
  bool standby = false;                     // data_dir.h: it follows a primary
  std::string backup_start_segment;         // the WAL file recovery needs first
  // A canceled exclusive backup proved consistent at the primary's shutdown
  // (backup_end.h): the end point, and the proof.
  std::optional<Lsn> backup_end_point;
  std::vector<std::string> backup_end_evidence;
  std::vector<std::string> wal_archives;    // --wal-archive directories, for the commands
  // backup_label left by a primary that crashed inside an exclusive backup
  // (backup_origin.h): why this is the primary, not a copy.
  bool crashed_primary = false;
  bool copy_unfinished = false;  // backup.h: nothing in place can complete it
  std::vector<std::string> crashed_primary_evidence;
  // Data pages.
  std::optional<Lsn> max_page_lsn;
  std::string max_page_where;
  uint64_t invalid_pages = 0;
  // pg_xact (pg_clog) no longer covering the XIDs in use.
  std::optional<std::string> xact_missing;
  // What --rebuild-xact would decide (xact_evidence.h), when pg_control is trusted.
  struct XactRebuildFacts {
    uint64_t needed = 0;          // XIDs rows depend on whose pg_xact page is gone
    uint64_t unknown = 0;         // ... that no evidence decides
    uint64_t contradictions = 0;  // ... whose evidence disagrees (counted in unknown)
    uint64_t relations = 0;       // relations holding rows that depend on unknown XIDs
    std::string by_source;        // "wal 120, hint_bits 80"
    std::string pages_unread;     // why not every data page was read ("" when all were)
  };
  std::optional<XactRebuildFacts> xact_rebuild;
  // The next XID near wraparound past the oldest unfrozen one: why, and the
  // databases to vacuum.
  std::optional<std::string> xid_wrap_near;
  std::vector<std::string> databases;
  // The reset, when one is needed.
  std::string reset_command;  // pgrescue-reset … -D '…'
  std::vector<std::string> reset_loses;
};

std::vector<Remedy> RankRemedies(const RemedyFacts& facts);

}  // namespace pgrescue
