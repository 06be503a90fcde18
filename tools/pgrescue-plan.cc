// pgrescue-plan: diagnose a data directory and derive every value a WAL
// reset needs, with the reasoning. Reads only; never writes.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/cli.h"
#include "tools/listing_heap.h"

#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/cluster/server_log.h"
#include "libcontrol/plan/planner.h"

namespace {

constexpr int kExitPlanned = 0;
constexpr int kExitNeedsDecision = 1;
constexpr int kExitUnusable = pgrescue::cli::kExitUnusable;
constexpr const char* kProgname = "pgrescue-plan";

constexpr const char* kDescription =
    "Diagnoses a PostgreSQL data directory (9.4 to 19) that will not start and ranks the remedies\n"
    "by what each loses: wait (something still uses it), new-backup (an unfinished copy), vacuum\n"
    "(wraparound), rebuild-xact and restore-xact (lost commit status), start-server (crash recovery\n"
    "works), finish-backup (a canceled exclusive backup, proved consistent), restart-primary (a\n"
    "primary that crashed inside a backup), recover-backup, from-wal, and only then a reset, with\n"
    "every value pg_resetwal (pg_resetxlog before 10) needs: -x -u -m -O -c -o -l -e, each with\n"
    "its evidence and arithmetic. Reads only; writes nothing.\n";

constexpr const char* kFooter =
    "\nHow values are derived: pg_xact, pg_multixact and pg_commit_ts segments form a run\n"
    "modulo their numbering (so wraparound is handled); each next value is the first ID of\n"
    "the segment after the newest, so the server starts a fresh segment. Where pg_control is\n"
    "readable, the later of the two is taken and the comparison is shown. -l is one segment\n"
    "past every WAL file in pg_wal and the archives, on the newest timeline, and past the\n"
    "largest LSN on any data page.\n"
    "\n"
    "Symptoms: the server's log (the last start it records) or pasted lines are matched against\n"
    "a catalogue of failure classes (a damaged pg_control, no valid checkpoint, a canceled backup,\n"
    "a primary that crashed inside a backup, an unfinished copy, lost commit status, lost or damaged WAL, damaged pages, wraparound, a lock file); each class\n"
    "named is judged against the disk now: confirmed, refuted, or unconfirmed.\n"
    "\n"
    "Hazards (a running server, a stale postmaster.pid, backup_label, an unclean shutdown,\n"
    "missing segments, a damaged pg_control) are listed before the values.\n"
    "\n"
    "Exit status:\n"
    "  0  nothing needs doing, or the one remedy is to start the server\n"
    "  1  a decision is needed (see the remedies)\n"
    "  2  unusable input or bad usage\n"
    "\n"
    "Examples:\n"
    "  pgrescue-plan /var/lib/postgresql/15/main\n"
    "  pgrescue-plan -D \"$PGDATA\" --wal-archive /mnt/archive --json\n"
    "  pgrescue-plan --log /tmp/startup.log /var/lib/postgresql/15/main\n"
    "  pgrescue-plan --symptom 'PANIC:  could not locate a valid checkpoint record' \"$PGDATA\"\n"
    "  pgrescue-plan --reset-values /var/lib/postgresql/15/main\n";

int Fail(const std::string& message) { return pgrescue::cli::Fail(kProgname, message); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(kDescription, kProgname);
  app.footer(kFooter);
  pgrescue::cli::DataDirOption data_dir_option(app);
  std::vector<std::string> archives;
  bool json = false;
  pgrescue::PlanOptions options;
  app.add_option("--wal-archive", archives, "a directory of archived WAL to consider (repeatable)")
      ->allow_extra_args(false);
  std::vector<std::string> log_files, symptoms;
  bool no_log = false;
  app.add_option("--log", log_files,
                 "the server's log to read the last start from (stderr, csvlog or jsonlog; repeatable); by "
                 "default the newest file in log_directory, and Debian's /var/log/postgresql file")
      ->allow_extra_args(false);
  app.add_option("--symptom", symptoms, "a line of the server's log, as pasted (repeatable)")->allow_extra_args(false);
  app.add_flag("--no-log", no_log, "do not look for the server's log");
  app.add_flag("--json", json, "print the plan as JSON");
  app.add_flag("--reset-values", options.reset_values,
               "derive and print the reset values and command even where recovery from WAL would work");
  if (auto exit_code = pgrescue::cli::Parse(app, argc, argv, kProgname)) return *exit_code;
  const auto data_dir = data_dir_option.Resolve(kProgname);
  if (!data_dir) return kExitUnusable;
  pgrescue::cli::PrepareHeapForListing(*data_dir);

  auto dir = pgrescue::ScanDataDir(*data_dir, archives);
  if (!dir) return Fail(dir.error().ToString());
  for (const auto& a : dir->wal_archives) {
    if (!a.exists) return Fail("WAL archive \"" + a.path + "\" does not exist or is not a directory");
  }
  if (log_files.empty() && !no_log) {
    for (const auto& found : pgrescue::FindServerLogs(*dir)) {
      if (found.rfind("/var/log/", 0) == 0 || log_files.empty()) log_files.push_back(found);
    }
  }
  for (const auto& file : log_files) {
    auto log = pgrescue::ReadServerLog(file);
    if (!log) return Fail(log.error().ToString());
    options.logs.push_back(std::move(*log));
  }
  if (!symptoms.empty()) options.logs.push_back(pgrescue::SymptomLog(symptoms));
  auto plan = pgrescue::MakePlan(*dir, options);
  if (!plan) return Fail(plan.error().ToString());
  if (json) {
    std::cout << pgrescue::PlanToJson(*plan).dump(2) << "\n";
  } else {
    std::cout << pgrescue::FormatPlan(*plan);
  }
  std::cout.flush();
  if (!std::cout) return kExitUnusable;
  return plan->NeedsDecision() ? kExitNeedsDecision : kExitPlanned;
}
