// pgrescue-reset: pg_resetwal for every supported version, keeping every file
// it replaces in a rescue folder so --undo can put the cluster back.
#include <ctime>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "libcontrol/cluster/backup.h"
#include "libcontrol/cluster/control_trust.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/plan/planner.h"
#include "libcontrol/plan/remedies.h"
#include "libcontrol/reset/apply.h"
#include "libcontrol/reset/rebuild.h"
#include "libcontrol/reset/refusals.h"
#include "libcontrol/reset/rescue.h"
#include "libcontrol/reset/reset.h"
#include "libcontrol/reset/writer_lock.h"
#include "tools/cli.h"
#include "tools/reset_modes.h"

namespace {

using namespace pgrescue::reset_cli;  // NOLINT: the modes and what they share
using pgrescue::cli::kExitUnusable;

constexpr const char* kDescription =
    "Resets the write-ahead log of a PostgreSQL cluster (9.4 to 19) as that version's\n"
    "pg_resetwal (pg_resetxlog before 10) would, with the same options, but keeps every file it\n"
    "replaces or removes (pg_control, WAL segments, archive_status entries, WAL summaries) in a\n"
    "rescue folder with a manifest, so --undo puts the data directory back byte for byte.\n";

constexpr const char* kFooter =
    "\nA reset throws away WAL: transactions whose WAL is lost are lost, and the values given must\n"
    "be safe (pgrescue-plan derives them; --auto takes them). Try -n first: it prints what would\n"
    "change, in pg_resetwal -n's format, and writes nothing.\n"
    "\n"
    "When pg_xact (pg_clog) is lost in part or whole, --rebuild-xact writes the missing pages from\n"
    "evidence: WAL commit and abort records, surviving pg_xact pages, commit timestamps, tuple hint\n"
    "bits and all-visible pages. An XID nothing answers for is unknown; then it refuses and says, per\n"
    "table, what --unknown committed or --unknown aborted would show.\n"
    "\n"
    "When WAL survives, --from-wal loses nothing: it points pg_control at the newest checkpoint\n"
    "record in WAL whose redo point is readable, and the server's crash recovery replays the\n"
    "rest. With --rebuild when pg_control is lost; --checkpoint LSN picks an older one.\n"
    "\n"
    "When a copy taken inside pg_start_backup() (exclusive, 9.4 to 14) PANICs with \"online backup\n"
    "was canceled\" because the primary shut down before pg_stop_backup, --finish-backup proves the\n"
    "copy consistent at the primary's shutdown checkpoint (WAL readable from the backup's start to\n"
    "it, no page LSN past it, no relation file modified after it) and writes that point into\n"
    "pg_control as the backup's end. Start the copy as before: its recovery ends the backup there.\n"
    "\n"
    "Safety: refuses while anything uses the data directory (the postmaster, a backend still\n"
    "attached to its shared memory, any process with its working directory or open files there),\n"
    "while a stale postmaster.pid exists, when the new WAL would start at or below the largest LSN\n"
    "on any data page, when pg_control's values were damaged (CRC) or the server was not shut down\n"
    "cleanly unless -f, and when PG_VERSION and pg_control disagree. --from-wal never starts past\n"
    "a base backup's start. While it writes it holds postmaster.pid as its lock, so a server\n"
    "(pg_ctl start) or another pgrescue-reset refuses to start meanwhile; a lock left by a killed\n"
    "run is stale, and --undo takes it over and removes it.\n"
    "\n"
    "Rescue folder: <datadir>.pgrescue/<UTC time>/ by default, or --rescue-dir. Files are moved\n"
    "(renamed on one filesystem; copied, fsynced and verified across filesystems), new files are\n"
    "written atomically and durably with the owner and mode of the data directory's files.\n"
    "\n"
    "Exit status:\n"
    "  0  reset done, dry run printed, or undo done\n"
    "  1  refused for safety (see the message: -f, a running server, guessed values)\n"
    "  2  unusable input or bad usage; nothing written\n"
    "  3  partial undo: the data directory is not fully restored (every file that is not is named,\n"
    "     with why; run --undo again after fixing it)\n"
    "  4  failed part-way, after files were moved to the rescue folder or written: the message names\n"
    "     the --undo command that puts the data directory back\n"
    "\n"
    "Examples:\n"
    "  pgrescue-reset -n -D /var/lib/postgresql/15/main\n"
    "  pgrescue-reset --auto -f -D \"$PGDATA\"\n"
    "  pgrescue-reset -x 1048576 -m 65536,1 -O 52352 -D \"$PGDATA\"\n"
    "  pgrescue-reset --undo -D \"$PGDATA\"\n"
    "  pgrescue-reset -n --rebuild --from-wal -D \"$PGDATA\"\n"
    "  pgrescue-reset -n --rebuild-xact -D \"$PGDATA\"\n"
    "  pgrescue-reset --finish-backup --wal-archive /mnt/archive -D /srv/copy\n";

CLI::Option* AddOptions(CLI::App& app, Options& opt) {
  app.add_flag("-f,--force", opt.force, "force the reset even with guessed values or an unclean shutdown");
  app.add_flag("-n,--dry-run", opt.dry_run, "print what would change; write nothing");
  auto& v = opt.values;
  app.add_option("-x,--next-transaction-id", v.x, "next transaction ID");
  app.add_option("-u,--oldest-transaction-id", v.u, "oldest transaction ID (9.6 on)");
  app.add_option("-e,--epoch", v.e, "next transaction ID epoch");
  app.add_option("-m,--multixact-ids", v.m, "next and oldest multitransaction ID: next,oldest");
  app.add_option("-O,--multixact-offset", v.O, "next multitransaction offset");
  app.add_option("-l,--next-wal-file", v.l, "minimum starting WAL file name for the new WAL");
  app.add_option("-c,--commit-timestamp-ids", v.c, "oldest and newest commit-timestamp XIDs: oldest,newest (9.5 on)");
  app.add_option("-o,--next-oid", v.o, "next OID");
  app.add_option("--wal-segsize", v.wal_segsize, "WAL segment size in megabytes (11 on)");
  app.add_option("--char-signedness", v.char_signedness, "default char signedness: signed or unsigned (18 on)");
  app.add_flag("--auto", opt.auto_values, "take every value pgrescue-plan derives that is not given");
  app.add_option("--wal-archive", opt.archives, "with --auto, --from-wal or --finish-backup: archived WAL to read "
                 "(repeatable)")
      ->allow_extra_args(false);
  app.add_option("--rescue-dir", opt.rescue_dir, "where to keep replaced files (default <datadir>.pgrescue/<time>)");
  app.add_flag("--rebuild", opt.rebuild,
               "build a new pg_control from the cluster's files (when it is missing or unusable)");
  app.add_option("--catalog-version", opt.catalog_version, "with --rebuild: the catalog version, if no release "
                 "table entry or tablespace gives it");
  app.add_flag("--from-wal", opt.from_wal,
               "point pg_control at the newest usable checkpoint in WAL; crash recovery replays the rest");
  app.add_option("--checkpoint", opt.checkpoint, "with --from-wal: start from the checkpoint at this LSN instead");
  app.add_flag("--finish-backup", opt.finish_backup,
               "a canceled exclusive backup's copy: set the primary's shutdown checkpoint as the backup's end, "
               "once proved consistent there");
  app.add_flag("--rebuild-xact", opt.rebuild_xact,
               "write lost pg_xact pages from WAL, commit timestamps, hint bits and all-visible pages");
  app.add_option("--unknown", opt.unknown, "with --rebuild-xact: XIDs no evidence decides count as committed or aborted")
      ->check(CLI::IsMember({"committed", "aborted"}));
  app.add_flag("--json", opt.json, "with --rebuild-xact: the report as one JSON object");
  app.add_flag("--trust-pg-control", opt.trust_control, "reset with pg_control's version when PG_VERSION disagrees");
  return app.add_option("--undo", opt.undo, "put back what a reset replaced (default: its newest rescue folder)")
      ->expected(0, 1);
}

// No manifest to undo: a run killed before it wrote one changed nothing,
// but may have left its lock.
int NothingToUndo(const std::string& data_dir, const pg::Error& why) {
  if (why.code != pg::ErrorCode::kNotFound) return Fail(why.ToString());
  auto cleared = pg::ClearStaleWriterLock(data_dir);
  if (!cleared) {
    std::cerr << kProgname << ": " << why.ToString() << "\n";
    return Fail(cleared.error().ToString());
  }
  if (cleared->empty()) return Fail(why.ToString());
  std::cerr << kProgname << ": " << why.ToString() << "\n" << kProgname << ": " << *cleared << "\n";
  return kExitDone;
}

int Undo(const std::string& data_dir, const std::string& given) {
  // A run that stopped part-way named its folder in its lock.
  std::string rescue = given.empty() ? pg::StaleLockRescueDir(data_dir) : given;
  if (rescue.empty()) {
    auto newest = pg::NewestRescueDir(data_dir);
    if (!newest) return NothingToUndo(data_dir, newest.error());
    rescue = *newest;
  }
  auto report = pg::UndoRescue(rescue);
  if (!report) return NothingToUndo(data_dir, report.error());
  for (const auto& line : report->done) std::cout << line << "\n";
  if (report->complete()) {
    std::cout << "Undone from " << rescue << "\n";
    return kExitDone;
  }
  for (const auto& line : report->not_restored) std::cerr << kProgname << ": error: not restored: " << line << "\n";
  std::cerr << fmt::format("{}: error: partial undo: the data directory is not fully restored: the {} file(s) "
                           "named above are not back; the lines on standard output are what was done\n"
                           "{}: hint: put right what is named and run --undo again: it finishes the job, "
                           "counting what is already back as done\n",
                           kProgname, report->not_restored.size(), kProgname);
  return kExitPartialUndo;
}

// What makes a reset impossible without --rebuild.
std::string NeedsRebuild(const pg::DataDir& dir, const pg::ControlTrust& trust) {
  return fmt::format("global/pg_control is {}; --rebuild builds a new one from the cluster's files (try it with -n "
                     "first)",
                     trust.verdict == pg::ControlVerdict::kMissing      ? "missing"
                     : trust.verdict == pg::ControlVerdict::kUnreadable ? "unusable: " + dir.control->error().message
                                                                        : "damaged beyond use (bad CRC and "
                                                                          "implausible values)");
}

// --rebuild: a new pg_control from the cluster's files, with its evidence.
pg::Result<pg::Rebuilt> Rebuild(const pg::DataDir& dir, const Options& opt, int64_t now) {
  const pg::ControlLayout* version = dir.pg_version ? pg::FindLayoutByMajor(*dir.pg_version) : nullptr;
  if (version == nullptr) {
    return pg::MakeError(pg::ErrorCode::kInvalidArgument, "--rebuild needs PG_VERSION to name a supported version "
                         "(9.4 to 19); write the major version, such as 15, into it");
  }
  auto built = pg::RebuildControlFile(dir, *version, {opt.catalog_version, now});
  if (!built) return built;
  std::cout << "Rebuilt pg_control for PostgreSQL " << version->major() << " from:\n";
  for (const auto& e : built->evidence) std::cout << "  " << e << "\n";
  for (const auto& w : built->warnings) std::cerr << kProgname << ": warning: " << w << "\n";
  std::cout << "\n";
  return built;
}

// --finish-backup goes alone, and writes into a trusted pg_control only.
int FinishBackupAlone(const std::string& data_dir, const pg::DataDir& dir, const pg::ControlTrust& trust,
                      const Options& opt) {
  if (opt.rebuild || opt.from_wal || opt.auto_values || opt.values.any_value() || !opt.checkpoint.empty() ||
      opt.rebuild_xact || opt.unknown || opt.json) {
    return Fail("--finish-backup goes alone (with --wal-archive, -n and --rescue-dir)");
  }
  if (!trust.ok()) return Fail("--finish-backup writes into pg_control, and pg_control cannot be trusted");
  return FinishBackup(data_dir, dir, trust.read->control, opt);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(kDescription, kProgname);
  app.footer(kFooter);
  pgrescue::cli::DataDirOption data_dir_option(app);
  Options opt;
  auto* undo = AddOptions(app, opt);
  if (auto exit_code = pgrescue::cli::Parse(app, argc, argv, kProgname)) return *exit_code;
  const auto data_dir = data_dir_option.Resolve(kProgname, false);
  if (!data_dir) return kExitUnusable;
  if (undo->count() > 0) return Undo(*data_dir, opt.undo.value_or(""));

  // Read, and refuse what pg_resetwal refuses before deciding anything.
  auto request = pg::ParseResetRequest(opt.values);
  if (!request) return Fail(request.error().ToString());
  auto dir = pg::ScanDataDir(*data_dir, opt.archives);
  if (!dir) return Fail(dir.error().ToString());
  if (auto refused = Check(pg::CheckNotInUse(*dir))) return *refused;
  if (auto refused = Check(pg::CheckCopyFinished(*dir, opt.force))) return *refused;
  const auto trust = pg::JudgeControl(*dir, nullptr);
  if (opt.finish_backup) return FinishBackupAlone(*data_dir, *dir, trust, opt);
  if (opt.rebuild_xact || opt.unknown || opt.json) return RebuildXact(*data_dir, *dir, trust, opt);
  if (trust.needs_rebuild() && !opt.rebuild) return Fail(NeedsRebuild(*dir, trust));
  const auto now = static_cast<int64_t>(time(nullptr));
  std::optional<pg::Rebuilt> rebuilt;
  if (opt.rebuild) {
    auto built = Rebuild(*dir, opt, now);
    if (!built) return Fail(built.error().ToString());
    rebuilt = std::move(*built);
    request->keep_settings = true;
  }
  // A rebuilt pg_control's counters can only come from the files, or from WAL.
  const bool auto_values = opt.rebuild ? !opt.from_wal : opt.auto_values;
  const pg::ControlFile& current = rebuilt ? rebuilt->control : trust.read->control;
  const auto& layout = current.layout();
  if (!rebuilt && dir->pg_version && *dir->pg_version != layout.major() && !opt.trust_control) {
    return Fail(fmt::format("PG_VERSION says {} but pg_control is PostgreSQL {}'s; one of them is wrong. "
                            "Pass --trust-pg-control to reset as {}, or --rebuild to rebuild pg_control as {}",
                            *dir->pg_version, layout.major(), layout.major(), *dir->pg_version));
  }
  const bool guessed = !rebuilt && trust.verdict == pg::ControlVerdict::kGuessed;
  for (const auto& f : rebuilt ? std::span<const pg::Finding>() : trust.read->findings) {
    std::cerr << kProgname << ": warning: " << f.message << "\n";
  }
  if (!opt.checkpoint.empty() && !opt.from_wal) return Fail("--checkpoint goes with --from-wal");
  if (opt.from_wal && (auto_values || opt.values.any_value())) {
    return Fail("--from-wal takes every value from the checkpoint record; it does not go with --auto or "
                "pg_resetwal's value options");
  }
  if (opt.from_wal) return FromWal(*data_dir, *dir, current, !rebuilt && trust.ok(), rebuilt.has_value(), opt, now);

  // Decide.
  const auto pages = pg::ScanDataPages(*dir, rebuilt ? nullptr : trust.trusted);
  if (auto_values) {
    pg::PlanOptions plan_options;
    plan_options.pages = &pages;
    auto plan = pg::MakePlan(*dir, plan_options);
    if (!plan) return Fail(plan.error().ToString());
    std::cout << pg::TakePlannedValues(*plan, &*request);
  }
  auto outcome = pg::PlanReset(current, guessed, dir->wal, *request, now);
  if (!outcome) return Fail(outcome.error().ToString());
  const pg::Lsn new_start{outcome->new_segment * outcome->segment_size};
  const auto past = Check(pg::CheckStartPastBounds(pg::WalStartBounds(rebuilt ? nullptr : &current, pages.max),
                                                   new_start, opt.force));
  if (past || opt.dry_run || (guessed && !opt.force)) std::cout << outcome->dry_run_report;
  if (past) return *past;
  if (opt.dry_run) return kExitDone;
  if (auto refused = Check(pg::CheckGuessed(guessed, opt.force))) return *refused;
  if (auto refused = Check(pg::CheckCleanShutdown(current, opt.force))) return *refused;

  // Keep, then write; report.
  pg::Applied applied;
  if (int code = Apply(*data_dir, opt, pg::WritesForReset(*dir, current, *outcome), &applied)) return code;
  std::cout << layout.rules().reset_done_message << "\n" << pg::DescribeSignalFilesLeft(*data_dir);
  std::cout << fmt::format("Kept {} replaced file(s) in {}\nTo put them back: {} --undo {} -D {}\n", applied.kept,
                           applied.rescue_dir, kProgname, pg::ShellQuote(applied.rescue_dir), pg::ShellQuote(*data_dir));
  return kExitDone;
}
