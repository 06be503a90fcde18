// What a WAL reset changes, computed without touching disk: pg_resetwal's
// option rules and RewriteControlFile for the cluster's own version, the new
// WAL position, and its dry-run report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/control/control_file.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/base/result.h"

namespace pgrescue {

// The options as given, still unvalidated numbers (pg_resetwal parses with
// strtoul base 0, so 0x… and leading-0 octal are accepted).
struct ResetRequest {
  std::optional<uint64_t> next_xid;          // -x
  std::optional<uint64_t> oldest_xid;        // -u
  std::optional<uint64_t> epoch;             // -e
  std::optional<uint64_t> next_multi;        // -m first half
  std::optional<uint64_t> oldest_multi;      // -m second half
  std::optional<uint64_t> next_multi_offset; // -O
  std::optional<uint64_t> oldest_commit_ts;  // -c first half
  std::optional<uint64_t> newest_commit_ts;  // -c second half
  std::optional<uint64_t> next_oid;          // -o
  std::optional<std::string> next_wal_file;  // -l
  std::optional<uint64_t> wal_segsize_mb;    // --wal-segsize (11 on)
  std::optional<bool> char_signed;           // --char-signedness (18 on)
  // pg_resetwal forces max_connections and the other settings to defaults;
  // a rebuilt pg_control keeps the configured ones instead.
  bool keep_settings = false;
};

// Parses a number the way pg_resetwal does (strtoul, base 0); nullopt when
// the text is not entirely a number.
std::optional<uint64_t> ParseResetNumber(const std::string& text);

// "a,b" into two numbers (-m next,oldest and -c oldest,newest); false when
// either half is not a number.
bool ParseResetPair(const std::string& text, std::optional<uint64_t>* a, std::optional<uint64_t>* b);

// pg_resetwal's value options as typed; empty means not given.
struct ResetOptionText {
  std::string x, u, e, m, O, c, o, l, wal_segsize, char_signedness;
  bool any_value() const;  // any but --char-signedness
};

// The options as numbers; an Error names the option and what it takes.
Result<ResetRequest> ParseResetRequest(const ResetOptionText& text);

// Holds values only; `control` points at `current`'s version table entry,
// which lives as long as the program.
struct ResetOutcome {
  ControlFile control;             // the new pg_control
  uint64_t new_segment = 0;        // first segment of the new WAL, in the new segment size
  uint64_t segment_size = 0;
  std::string dry_run_report;      // pg_resetwal -n's text for the version
};

// `current` is the cluster's pg_control (read or rebuilt), `wal` the WAL
// directory listing; `now` the time to stamp. Errors carry pg_resetwal's
// meaning: an option the version rejects.
Result<ResetOutcome> PlanReset(const ControlFile& current, bool guessed, const DirListing& wal,
                               const ResetRequest& request, int64_t now);

}  // namespace pgrescue
