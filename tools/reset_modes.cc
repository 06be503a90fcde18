#include "tools/reset_modes.h"

#include <algorithm>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "libcontrol/cluster/backup.h"
#include "libcontrol/plan/planner.h"
#include "libcontrol/reset/finish_backup.h"
#include "libcontrol/reset/from_wal.h"
#include "libcontrol/reset/xact_rebuild.h"
#include "tools/cli.h"

namespace pgrescue::reset_cli {

int Fail(const std::string& message) { return pgrescue::cli::Fail(kProgname, message); }

int Refuse(const pg::Refusal& r) {
  for (const auto& e : r.evidence) std::cerr << kProgname << ": " << e << "\n";
  std::cerr << kProgname << ": error: " << r.message << "\n" << kProgname << ": hint: " << r.hint << "\n";
  return kExitRefused;
}

std::optional<int> Check(const pg::SafetyCheck& check) {
  for (const auto& w : check.warnings) std::cerr << kProgname << ": warning: " << w << "\n";
  if (check.refusal) return Refuse(*check.refusal);
  return std::nullopt;
}

int Apply(const std::string& data_dir, const Options& opt, const pg::Result<pg::ResetWrites>& writes,
          pg::Applied* applied) {
  if (!writes) return Fail(writes.error().ToString());
  *applied = pg::ApplyWrites(data_dir, opt.RescueDir(data_dir), *writes);
  for (const auto& w : applied->warnings) std::cerr << kProgname << ": warning: " << w << "\n";
  if (applied->status.ok()) return kExitDone;
  if (!applied->needs_undo()) return Fail(applied->status.error().ToString());
  std::cerr << fmt::format("{0}: error: {1}\n{0}: error: stopped part-way: the data directory is neither as it "
                           "was nor reset; every file moved or replaced so far is in {2}\n{0}: hint: to put the "
                           "data directory back as it was, run: {0} --undo {3} -D {4}\n",
                           kProgname, applied->status.error().ToString(), applied->rescue_dir,
                           pg::ShellQuote(applied->rescue_dir), pg::ShellQuote(data_dir));
  return kExitUndoNeeded;
}

// --from-wal: pg_control pointed at the newest usable checkpoint in WAL (or
// --checkpoint's); the server's crash recovery replays the rest. No WAL is
// removed; every segment is copied to the rescue folder.
int FromWal(const std::string& data_dir, const pg::DataDir& dir, const pg::ControlFile& current, bool trusted,
            bool rebuilt, const Options& opt, int64_t now) {
  std::optional<pg::Lsn> wanted;
  if (!opt.checkpoint.empty()) {
    auto parsed = pg::ParseLsn(opt.checkpoint);
    if (!parsed) return Fail(fmt::format("invalid argument for option --checkpoint: \"{}\"; give an LSN such as "
                                         "0/3000060", opt.checkpoint));
    wanted = *parsed;
  }
  // A backup copy, or a cluster mid-recovery, must replay from the backup's
  // start: nothing newer may be chosen, and its backup state stays.
  const auto backup = pg::JudgeBackup(dir, trusted ? &current : nullptr);
  auto report = pg::ScanForCheckpoints(dir, current, backup, wanted.has_value());
  if (!report) return Fail(report.error().ToString());
  auto chosen = pg::ChooseCheckpoint(*report, wanted, backup.recovering ? backup.newest_start : std::nullopt);
  if (!chosen && backup.recovering) {
    return Refuse(pg::RecoverBackupRefusal(backup, data_dir, chosen.error().ToString(), false));
  }
  if (!chosen) return Fail(chosen.error().ToString());
  if (auto refused = Check(pg::CheckBackupLabelReadable(dir, backup, opt.force))) return *refused;
  const auto& c = **chosen;
  std::cout << pg::DescribeStart(*report, c);
  if (trusted && current.value(pg::Field::kCheckPoint) == c.record.lsn.value) {
    std::cout << "pg_control already points at this checkpoint; nothing to change. If the server still does "
                 "not start, its log says why.\n";
    return backup.recovering ? Refuse(pg::RecoverBackupRefusal(backup, data_dir, "", true)) : kExitDone;
  }
  auto control = pg::PointAtCheckpoint(current, *report, c, now, backup.recovering);
  if (!trusted) for (const auto& l : pg::TakeIdentityFromWal(dir, &control)) std::cout << "Taken from WAL: " << l << "\n";
  std::cout << pg::DescribeControlChanges(current, control, !rebuilt);
  const auto pages = pg::ScanDataPages(dir, trusted ? &current : nullptr);
  const pg::Lsn start{report->end.at.value + 1};
  if (auto refused = Check(pg::CheckStartPastBounds(pg::WalStartBounds(nullptr, pages.max), start, opt.force))) {
    return *refused;
  }
  if (auto refused = Check(pg::CheckBackupLabelAgrees(dir, backup, c.record.lsn, opt.force))) return *refused;
  if (opt.dry_run) {
    std::cout << "Dry run: nothing written. Without -n, pg_control is written and the server, when started, "
                 "runs crash recovery from the redo point.\n";
    return kExitDone;
  }
  pg::Applied a;
  const uint64_t segment_size = current.value(pg::Field::kWalSegmentSize);
  if (int code = Apply(data_dir, opt, pg::WritesForFromWal(dir, control, segment_size), &a)) return code;
  std::cout << fmt::format("pg_control now points at the checkpoint at {}. Start the server: it runs crash recovery "
                           "from {} and replays WAL up to {}.\n",
                           pg::FormatLsn(c.record.lsn), pg::FormatLsn(pg::Lsn{c.record.redo()}),
                           pg::FormatLsn(report->end.at));
  std::cout << fmt::format("Kept the old pg_control and copies of all {} WAL segment(s) ({} bytes copied, {} bytes "
                           "shared by reflink) in {}\nTo put them back: {} --undo {} -D {}\n",
                           a.wal_copies, a.copied_bytes, a.reflinked_bytes, a.rescue_dir, kProgname,
                           pg::ShellQuote(a.rescue_dir), pg::ShellQuote(data_dir));
  return kExitDone;
}

// --finish-backup: pg_control's backup end set to the primary's shutdown
// checkpoint, once the copy is proved consistent there; nothing else changes.
int FinishBackup(const std::string& data_dir, const pg::DataDir& dir, const pg::ControlFile& current,
                 const Options& opt) {
  const auto pages = pg::ScanDataPages(dir, &current);
  const auto finish = pg::PlanBackupFinish(dir, current, pages);
  if (!finish.control) return Refuse(pg::BackupEndRefusal(finish.proof));
  std::cout << "The copy is consistent at the primary's shutdown:\n";
  for (const auto& line : finish.proof.evidence) std::cout << "  " << line << "\n";
  std::cout << "\n" << pg::DescribeControlChanges(current, *finish.control, true);
  if (opt.dry_run) {
    std::cout << "Dry run: nothing written.\n";
    return kExitDone;
  }
  pg::Applied a;
  if (int code = Apply(data_dir, opt, pg::WritesForControl(*finish.control, "the backup's end set in pg_control"),
                       &a)) {
    return code;
  }
  std::cout << fmt::format("pg_control now ends the backup at {}. Start the copy with its recovery settings as "
                           "they are: it reaches consistency there and replays the rest of the archive.\n"
                           "Kept the old pg_control in {}\nTo put it back: {} --undo {} -D {}\n",
                           pg::FormatLsn(finish.proof.end_point), a.rescue_dir, kProgname,
                           pg::ShellQuote(a.rescue_dir), pg::ShellQuote(data_dir));
  return kExitDone;
}

// --rebuild-xact: lost pg_xact pages written from evidence; unknown XIDs
// only by the DBA's explicit choice.
int RebuildXact(const std::string& data_dir, const pg::DataDir& dir, const pg::ControlTrust& trust,
                const Options& opt) {
  if (!opt.rebuild_xact) return Fail("--unknown and --json go with --rebuild-xact");
  if (opt.rebuild || opt.from_wal || opt.auto_values || opt.values.any_value()) {
    return Fail("--rebuild-xact goes alone: run it, then any reset, as separate steps");
  }
  if (!trust.ok()) {
    return Fail("--rebuild-xact needs pg_control's oldest and next XID, and pg_control cannot be trusted; "
                "rebuild it first (pgrescue-reset --rebuild, -n to try)");
  }
  const pg::ControlFile& control = trust.read->control;
  auto rebuild = pg::PlanXactRebuild(dir, control, std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  if (!rebuild) return Fail(rebuild.error().ToString());
  auto json = pg::XactRebuildJson(*rebuild);
  json["unknown_policy"] = opt.unknown ? nlohmann::ordered_json(*opt.unknown) : nlohmann::ordered_json();
  auto report = [&] { std::cout << (opt.json ? json.dump(2) + "\n" : ""); };
  if (!opt.json) std::cout << pg::DescribeXactRebuild(*rebuild) << "\n";
  if (rebuild->segments.empty()) {
    report();
    std::cerr << fmt::format("{}: pg_xact holds every page from the oldest XID {} to the next XID {}: nothing to "
                             "rebuild\n", kProgname, rebuild->evidence.oldest_xid, rebuild->evidence.next_xid);
    return kExitDone;
  }
  const bool undecided = !rebuild->unknown.empty() && !opt.unknown;
  if (opt.dry_run) {  // a dry run reports; only the write waits for the choice
    std::cout << (opt.json ? json.dump(2) + "\n" : "Dry run: nothing written.\n");
    if (undecided) std::cerr << kProgname << ": warning: without -n, " << pg::UnknownXidsRefusal(*rebuild).hint << "\n";
    return kExitDone;
  }
  if (undecided) {
    report();
    return Refuse(pg::UnknownXidsRefusal(*rebuild));
  }
  pg::Applied a;
  const bool committed = opt.unknown && *opt.unknown == "committed";
  if (int code = Apply(data_dir, opt, pg::WritesForXactRebuild(dir, control, *rebuild, committed), &a)) return code;
  json["written"] = true;
  json["rescue_dir"] = a.rescue_dir;
  report();
  if (!opt.json) {
    std::cout << fmt::format("Wrote {} pg_xact segment(s). Kept {} replaced file(s) in {}\nTo put them back: {} "
                             "--undo {} -D {}\n",
                             rebuild->segments.size(), a.kept, a.rescue_dir, kProgname, pg::ShellQuote(a.rescue_dir),
                             pg::ShellQuote(data_dir));
  }
  return kExitDone;
}

}  // namespace pgrescue::reset_cli
