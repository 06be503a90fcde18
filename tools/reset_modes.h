// pgrescue-reset's modes beyond the WAL reset itself, and what every mode
// shares: the options, refusals and the keep-then-write step. main() in
// pgrescue-reset.cc reads, refuses and dispatches to these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/cluster/control_trust.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/control/control_file.h"
#include "libcontrol/reset/apply.h"
#include "libcontrol/reset/refusals.h"
#include "libcontrol/reset/rescue.h"
#include "libcontrol/reset/reset.h"

namespace pgrescue::reset_cli {

namespace pg = pgrescue;
constexpr int kExitDone = 0;
constexpr int kExitRefused = 1;
constexpr int kExitPartialUndo = 3;
constexpr int kExitUndoNeeded = 4;
constexpr const char* kProgname = "pgrescue-reset";

struct Options {
  bool force = false, dry_run = false, auto_values = false, trust_control = false, rebuild = false;
  bool from_wal = false, rebuild_xact = false, json = false, finish_backup = false;
  std::optional<std::string> unknown, undo;
  std::string checkpoint, rescue_dir;
  std::optional<uint32_t> catalog_version;
  pg::ResetOptionText values;
  std::vector<std::string> archives;
  std::string RescueDir(const std::string& data_dir) const {
    return rescue_dir.empty() ? pg::DefaultRescueDir(data_dir) : rescue_dir;
  }
};

// "pgrescue-reset: error: ..." and exit 2.
int Fail(const std::string& message);
// The refusal's evidence, message and hint; exit 1.
int Refuse(const pg::Refusal& r);
// Prints a check's warnings; the exit code when it refuses.
std::optional<int> Check(const pg::SafetyCheck& check);
// Keep, then write. Exit 2 while nothing is written; once the rescue folder
// may hold files, exit 4 with the command that puts everything back.
int Apply(const std::string& data_dir, const Options& opt, const pg::Result<pg::ResetWrites>& writes,
          pg::Applied* applied);

// --from-wal: pg_control pointed at the newest usable checkpoint in WAL (or
// --checkpoint's); the server's crash recovery replays the rest.
int FromWal(const std::string& data_dir, const pg::DataDir& dir, const pg::ControlFile& current, bool trusted,
            bool rebuilt, const Options& opt, int64_t now);
// --finish-backup: pg_control's backup end set to the primary's shutdown
// checkpoint, once the copy is proved consistent there.
int FinishBackup(const std::string& data_dir, const pg::DataDir& dir, const pg::ControlFile& current,
                 const Options& opt);
// --rebuild-xact: lost pg_xact pages written from evidence.
int RebuildXact(const std::string& data_dir, const pg::DataDir& dir, const pg::ControlTrust& trust,
                const Options& opt);

}  // namespace pgrescue::reset_cli
