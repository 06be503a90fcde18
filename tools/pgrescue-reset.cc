// pgrescue-reset: pg_resetwal for every supported version, keeping every file
// it replaces in a rescue folder so --undo can put the cluster back.
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "libcontrol/cluster/backup.h"
#include "libcontrol/cluster/control_trust.h"
#include "libcontrol/control/control_json.h"
#include "libcontrol/control/control_text.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/reset/from_wal.h"
#include "libcontrol/plan/planner.h"
#include "libcontrol/reset/rebuild.h"
#include "libcontrol/reset/rescue.h"
#include "libcontrol/reset/reset.h"
#include "libcontrol/base/wal_names.h"
#include "libcontrol/wal/wal_record.h"
#include "libcontrol/wal/wal_report.h"
#include "tools/cli.h"

namespace {

using pgrescue::cli::kExitUnusable;
constexpr int kExitDone = 0;
constexpr int kExitRefused = 1;
constexpr const char* kProgname = "pgrescue-reset";

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
    "When WAL survives, --from-wal loses nothing: it points pg_control at the newest checkpoint\n"
    "record in WAL whose redo point is readable, and the server's crash recovery replays the\n"
    "rest. With --rebuild when pg_control is lost; --checkpoint LSN picks an older one.\n"
    "\n"
    "Safety: refuses while anything uses the data directory (the postmaster, a backend still\n"
    "attached to its shared memory, any process with its working directory or open files there),\n"
    "while a stale postmaster.pid exists, when the new WAL would start at or below the largest LSN\n"
    "on any data page, when pg_control's values were damaged (CRC) or the server was not shut down\n"
    "cleanly unless -f, and when PG_VERSION and pg_control disagree. --from-wal never starts past\n"
    "a base backup's start.\n"
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
    "\n"
    "Examples:\n"
    "  pgrescue-reset -n -D /var/lib/postgresql/15/main\n"
    "  pgrescue-reset --auto -f -D \"$PGDATA\"\n"
    "  pgrescue-reset -x 1048576 -m 65536,1 -O 52352 -D \"$PGDATA\"\n"
    "  pgrescue-reset --undo -D \"$PGDATA\"\n"
    "  pgrescue-reset -n --rebuild --from-wal -D \"$PGDATA\"\n";

int Fail(const std::string& message) { return pgrescue::cli::Fail(kProgname, message); }

int Refuse(const std::string& message, const std::string& hint) {
  std::cerr << kProgname << ": error: " << message << "\n" << kProgname << ": hint: " << hint << "\n";
  return kExitRefused;
}

// "a,b" into two numbers.
bool ParsePair(const std::string& text, std::optional<uint64_t>* a, std::optional<uint64_t>* b) {
  const auto comma = text.find(',');
  if (comma == std::string::npos) return false;
  *a = pgrescue::ParseResetNumber(text.substr(0, comma));
  *b = pgrescue::ParseResetNumber(text.substr(comma + 1));
  return a->has_value() && b->has_value();
}

struct Options {
  bool force = false, dry_run = false, auto_values = false, trust_control = false, rebuild = false;
  bool from_wal = false;
  std::string checkpoint;
  std::optional<uint32_t> catalog_version;
  std::string x, u, e, m, O, c, o, l, wal_segsize, char_signedness, rescue_dir;
  std::optional<std::string> undo;
  std::vector<std::string> archives;
};

// Numbers as pg_resetwal reads them; an error names the option.
std::optional<std::string> BuildRequest(const Options& opt, pgrescue::ResetRequest* r) {
  auto number = [](const std::string& text, const char* option, std::optional<uint64_t>* out)
      -> std::optional<std::string> {
    if (text.empty()) return std::nullopt;
    *out = pgrescue::ParseResetNumber(text);
    if (!*out) return fmt::format("invalid argument for option {}: \"{}\"", option, text);
    return std::nullopt;
  };
  for (auto [text, option, out] : {std::tuple{&opt.x, "-x", &r->next_xid}, {&opt.u, "-u", &r->oldest_xid},
                                   {&opt.e, "-e", &r->epoch}, {&opt.O, "-O", &r->next_multi_offset},
                                   {&opt.o, "-o", &r->next_oid}, {&opt.wal_segsize, "--wal-segsize", &r->wal_segsize_mb}}) {
    if (auto error = number(*text, option, out)) return error;
  }
  if (!opt.m.empty() && !ParsePair(opt.m, &r->next_multi, &r->oldest_multi)) {
    return fmt::format("invalid argument for option -m: \"{}\"; give next,oldest", opt.m);
  }
  if (!opt.c.empty() && !ParsePair(opt.c, &r->oldest_commit_ts, &r->newest_commit_ts)) {
    return fmt::format("invalid argument for option -c: \"{}\"; give oldest,newest", opt.c);
  }
  if (!opt.l.empty()) r->next_wal_file = opt.l;
  if (!opt.char_signedness.empty()) {
    std::string s = opt.char_signedness;
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (s != "signed" && s != "unsigned") return "--char-signedness takes signed or unsigned";
    r->char_signed = s == "signed";
  }
  return std::nullopt;
}

// --auto: every value the planner derives that was not given explicitly.
void TakePlannedValues(const pgrescue::Plan& plan, pgrescue::ResetRequest* r) {
  for (const auto& v : plan.values) {
    std::cout << fmt::format("{} {}: {}\n", v.option, v.what, v.value);
    for (const auto& why : v.reasoning) std::cout << "    " << why << "\n";
    if (!v.in_command) continue;
    std::optional<uint64_t> a, b;
    if (v.option == "-x" && !r->next_xid) r->next_xid = pgrescue::ParseResetNumber(v.value);
    if (v.option == "-u" && !r->oldest_xid) r->oldest_xid = pgrescue::ParseResetNumber(v.value);
    if (v.option == "-e" && !r->epoch) r->epoch = pgrescue::ParseResetNumber(v.value);
    if (v.option == "-O" && !r->next_multi_offset) r->next_multi_offset = pgrescue::ParseResetNumber(v.value);
    if (v.option == "-o" && !r->next_oid) r->next_oid = pgrescue::ParseResetNumber(v.value);
    if (v.option == "-l" && !r->next_wal_file) r->next_wal_file = v.value;
    if (v.option == "-m" && !r->next_multi && ParsePair(v.value, &a, &b)) r->next_multi = a, r->oldest_multi = b;
    if (v.option == "-c" && !r->oldest_commit_ts && ParsePair(v.value, &a, &b)) {
      r->oldest_commit_ts = a, r->newest_commit_ts = b;
    }
  }
  std::cout << "\n";
}

// The page magic the cluster's server expects: that of its WAL, if any.
uint16_t ChooseMagic(const pgrescue::ControlLayout& layout, const pgrescue::DataDir& dir) {
  for (const auto& e : dir.wal.entries) {
    if (e.name.size() != 24) continue;
    if (auto h = pgrescue::ReadWalLongPageHeader(dir.wal.path + "/" + e.name, layout)) return h->magic;
  }
  return layout.wal_page_magics().front();
}

// What a reset moves away: pg_control, WAL segments (and .partial), their
// archive_status entries, and (17 on) WAL summaries.
std::vector<std::string> FilesToKeep(const pgrescue::DataDir& dir, uint64_t segment_size) {
  std::vector<std::string> out;
  if (dir.control_present) out.push_back("global/pg_control");
  const std::string wal = std::filesystem::path(dir.wal.path).filename().string();
  for (const auto& e : dir.wal.entries) {
    const auto kind = pgrescue::ClassifyWalFileName(e.name, segment_size).kind;
    if (!e.is_dir && (kind == pgrescue::WalFileKind::kSegment || kind == pgrescue::WalFileKind::kPartial)) {
      out.push_back(wal + "/" + e.name);
    }
  }
  for (const auto& e : dir.wal_archive_status.entries) {
    for (const char* suffix : {".ready", ".done"}) {
      const std::string s(suffix);
      if (e.name.size() > s.size() && e.name.ends_with(s)) {
        const auto kind = pgrescue::ClassifyWalFileName(e.name.substr(0, e.name.size() - s.size()), segment_size).kind;
        if (kind == pgrescue::WalFileKind::kSegment || kind == pgrescue::WalFileKind::kPartial) {
          out.push_back(wal + "/archive_status/" + e.name);
        }
      }
    }
  }
  for (const auto& e : dir.wal_summaries.entries) {
    if (e.name.size() == 48 && e.name.ends_with(".summary")) out.push_back(wal + "/summaries/" + e.name);
  }
  return out;
}

int Undo(const std::string& data_dir, const std::string& given) {
  std::string rescue = given;
  if (rescue.empty()) {
    auto newest = pgrescue::NewestRescueDir(data_dir);
    if (!newest) return Fail(newest.error().ToString());
    rescue = *newest;
  }
  constexpr int kExitPartialUndo = 3;
  auto report = pgrescue::UndoRescue(rescue);
  if (!report) return Fail(report.error().ToString());
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

// Every field whose value the new pg_control changes, in the SQL view's names.
void PrintChanges(const pgrescue::ControlFile& before, const pgrescue::ControlFile& after, bool before_known) {
  const auto a = pgrescue::ControlSqlView(before), b = pgrescue::ControlSqlView(after);
  std::cout << "pg_control changes:\n";
  for (const auto& [group, fields] : b.items()) {
    for (const auto& [key, value] : fields.items()) {
      const auto& old = a[group][key];
      if (old == value) continue;
      std::cout << fmt::format("  {}.{}: {} -> {}\n", group, key, before_known ? old.dump() : "(rebuilt)",
                               value.dump());
    }
  }
  const auto state = after.value(pgrescue::Field::kState);
  std::cout << fmt::format("  state: {} -> {}\n\n", pgrescue::DbStateText(before.value(pgrescue::Field::kState)),
                           pgrescue::DbStateText(state));
}

// Anything still using the directory may write to it after we do: a
// backend left by a killed postmaster still commits.
int RefuseInUse(const pgrescue::LiveCheck& live) {
  std::string who;
  for (const auto& line : live.Describe()) who += (who.empty() ? "" : "; ") + line;
  const std::string server = live.PostgresWouldSay();
  return Refuse("the data directory is still in use: " + who +
                    (server.empty() ? "" : "; PostgreSQL itself would refuse to start: \"" + server + "\""),
                "stop the server (pg_ctl stop) or wait for these processes to end, then try again; nothing may be "
                "changed while they can still write");
}

// A new WAL start at or below a bound reuses positions that pages or
// recovery markers already carry: refused unless -f, then warned.
std::optional<int> RefuseStartBelow(const std::vector<pgrescue::WalStartBound>& bounds, pgrescue::Lsn start,
                                    bool force) {
  for (const auto& b : bounds) {
    if (b.lsn < start) continue;
    const std::string what = fmt::format("{} is {}, at or past where WAL would continue ({}): the server would "
                                         "fail every checkpoint with \"xlog flush request … is not satisfied\"",
                                         b.what, pgrescue::FormatLsn(b.lsn), pgrescue::FormatLsn(start));
    if (force) {
      std::cerr << kProgname << ": warning: " << what << "\n";
      continue;
    }
    return Refuse(what, "give -l a WAL file past it (pgrescue-plan derives one), or -f to go on anyway");
  }
  return std::nullopt;
}

// --from-wal: pg_control pointed at the newest usable checkpoint in WAL (or
// --checkpoint's), the server's crash recovery replays the rest. No WAL is
// removed; every segment is copied to the rescue folder, since the server
// writes over, recycles or removes them.
int FromWal(const std::string& data_dir, const pgrescue::DataDir& dir, const pgrescue::ControlFile& current,
            bool rebuilt, const Options& opt, int64_t now) {
  std::optional<pgrescue::Lsn> wanted;
  if (!opt.checkpoint.empty()) {
    auto parsed = pgrescue::ParseLsn(opt.checkpoint);
    if (!parsed) return Fail(fmt::format("invalid argument for option --checkpoint: \"{}\"; give an LSN such as "
                                         "0/3000060", opt.checkpoint));
    wanted = *parsed;
  }
  pgrescue::WalScanOptions scan;
  scan.layout = &current.layout();
  scan.segment_size = current.value(pgrescue::Field::kWalSegmentSize);
  scan.page_size = static_cast<uint32_t>(current.value(pgrescue::Field::kWalBlockSize));
  scan.listings = pgrescue::WalListings(dir);
  scan.mode = wanted ? pgrescue::WalScanMode::kFull : pgrescue::WalScanMode::kLatestCheckpoint;
  // A backup copy, or a cluster mid-recovery, must replay from the backup's
  // start: nothing newer may be chosen, and its backup state stays.
  const bool trusted = !rebuilt && dir.control->value().crc_ok();
  const auto backup = pgrescue::JudgeBackup(dir, trusted ? &current : nullptr);
  auto report = pgrescue::ScanWalJudging(scan, {backup.newest_start});
  if (!report) return Fail(report.error().ToString());
  auto chosen = pgrescue::ChooseCheckpoint(*report, wanted,
                                           backup.recovering ? backup.newest_start : std::optional<pgrescue::Lsn>());
  if (!chosen && backup.recovering) {
    for (const auto& e : backup.evidence) std::cerr << kProgname << ": " << e << "\n";
    return Refuse(chosen.error().ToString(),
                  fmt::format("recovery must replay from the backup's start: follow the recover-backup remedy of "
                              "`pgrescue-plan {}` (keep the backup state, remove recovery.signal or supply the WAL, "
                              "start the server)",
                              pgrescue::ShellQuote(data_dir)));
  }
  if (!chosen) return Fail(chosen.error().ToString());
  if (dir.backup_label && !backup.label && !opt.force) {
    return Refuse("backup_label exists, but names no START WAL LOCATION and CHECKPOINT LOCATION: where the backup "
                  "started, and so how far back recovery must begin, cannot be told",
                  "if no backup is being restored, move backup_label aside (it is a leftover); to go on anyway, "
                  "use -f");
  }
  const auto& c = **chosen;
  const pgrescue::Lsn redo{c.record.redo()};
  std::cout << fmt::format("Checkpoint to start from: {} ({}, redo {}, timeline {})\n", pgrescue::FormatLsn(c.record.lsn),
                           c.record.shutdown ? "shutdown" : "online", pgrescue::FormatLsn(redo), report->timeline);
  std::cout << fmt::format("End of valid WAL:         {} ({}: {})\n", pgrescue::FormatLsn(report->end.at),
                           pgrescue::WalStopName(report->end.why), report->end.detail);
  if (report->maxima.last_commit_time) {
    std::cout << fmt::format("Last commit in WAL:       {} (XID {})\n",
                             pgrescue::FormatPgTimestamp(*report->maxima.last_commit_time),
                             report->maxima.last_commit_xid);
  }
  std::cout << "\n";
  const bool already = !rebuilt && current.value(pgrescue::Field::kCheckPoint) == c.record.lsn.value &&
                       dir.control->value().crc_ok();
  if (already) {
    std::cout << "pg_control already points at this checkpoint; nothing to change. If the server still does "
                 "not start, its log says why.\n";
    if (backup.recovering) {
      for (const auto& e : backup.evidence) std::cerr << kProgname << ": " << e << "\n";
      return Refuse("the files are a backup copy or an unfinished recovery, and pg_control already points at the "
                    "newest checkpoint recovery may start from; no checkpoint in WAL is a better start",
                    fmt::format("follow the recover-backup remedy of `pgrescue-plan {}`: keep the backup's state "
                                "and let recovery replay from the backup's start",
                                pgrescue::ShellQuote(data_dir)));
    }
    return kExitDone;
  }
  const auto control = pgrescue::PointAtCheckpoint(current, *report, c, now, backup.recovering);
  PrintChanges(current, control, !rebuilt);
  const auto pages = pgrescue::ScanDataPages(dir, trusted ? &current : nullptr);
  if (auto refused = RefuseStartBelow(pgrescue::WalStartBounds(nullptr, pages.max),
                                      pgrescue::Lsn{report->end.at.value + 1}, opt.force)) {
    return *refused;
  }
  const bool label_agrees = backup.label && backup.label->checkpoint == c.record.lsn;
  if (dir.backup_label && !label_agrees && !opt.force) {
    return Refuse("backup_label exists: the server would start from the checkpoint it names, not pg_control's",
                  "if no backup is being restored, move backup_label aside (it is a leftover); to go on anyway, "
                  "use -f");
  }
  if (opt.dry_run) {
    std::cout << "Dry run: nothing written. Without -n, pg_control is written and the server, when started, "
                 "runs crash recovery from the redo point.\n";
    return kExitDone;
  }
  auto owner = pgrescue::DataFileOwner(data_dir);
  if (!owner) return Fail(owner.error().ToString());
  auto bytes = pgrescue::SerializeControlFile(control);
  if (!bytes) return Fail(bytes.error().ToString());
  const std::string rescue_dir = opt.rescue_dir.empty() ? pgrescue::DefaultRescueDir(data_dir) : opt.rescue_dir;
  auto folder = pgrescue::RescueFolder::Create(data_dir, rescue_dir, "pg_control pointed at a checkpoint in WAL");
  if (!folder) return Fail(folder.error().ToString());
  const std::string wal = std::filesystem::path(dir.wal.path).filename().string();
  const uint64_t segment_size = scan.segment_size;
  // The started server overwrites segments from the end of valid WAL on, and
  // once past its redo point recycles (renames, then overwrites) or removes
  // the older ones with their archive_status entries: every one is kept.
  std::vector<std::string> to_copy;
  for (const auto& e : dir.wal.entries) {
    if (!e.is_dir && pgrescue::ClassifyWalFileName(e.name, segment_size).kind == pgrescue::WalFileKind::kSegment) {
      to_copy.push_back(wal + "/" + e.name);
    }
  }
  for (const auto& e : dir.wal_archive_status.entries) {
    const auto dot = e.name.rfind('.');
    if (!e.is_dir && dot != std::string::npos && (e.name.ends_with(".ready") || e.name.ends_with(".done")) &&
        pgrescue::ClassifyWalFileName(e.name.substr(0, dot), segment_size).kind == pgrescue::WalFileKind::kSegment) {
      to_copy.push_back(wal + "/archive_status/" + e.name);
    }
  }
  int copies = 0;
  uint64_t copied_bytes = 0, reflinked_bytes = 0;
  for (const auto& relative : to_copy) {
    auto r = folder->KeepCopy(relative);
    if (!r) return Fail(r.error().ToString());
    (r->reflinked ? reflinked_bytes : copied_bytes) += r->bytes;
    copies += relative.find("/archive_status/") == std::string::npos ? 1 : 0;
  }
  if (dir.control_present) {
    if (auto r = folder->Keep("global/pg_control"); !r) return Fail(r.error().ToString());
  }
  owner->mode = 0600 | (owner->mode & 0040);
  if (auto r = folder->WriteNew("global/pg_control", *bytes, 0, *owner); !r) {
    return Fail(r.error().ToString() + "; the old pg_control is in " + folder->dir() + " and --undo puts it back");
  }
  std::cout << fmt::format("pg_control now points at the checkpoint at {}. Start the server: it runs crash recovery "
                           "from {} and replays WAL up to {}.\n",
                           pgrescue::FormatLsn(c.record.lsn), pgrescue::FormatLsn(redo),
                           pgrescue::FormatLsn(report->end.at));
  std::cout << fmt::format("Kept the old pg_control and copies of all {} WAL segment(s) ({} bytes copied, {} bytes "
                           "shared by reflink) in {}\nTo put them back: {} --undo '{}' -D '{}'\n",
                           copies, copied_bytes, reflinked_bytes, folder->dir(), kProgname, folder->dir(), data_dir);
  return kExitDone;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(kDescription, kProgname);
  app.footer(kFooter);
  pgrescue::cli::DataDirOption data_dir_option(app);
  Options opt;
  app.add_flag("-f,--force", opt.force, "force the reset even with guessed values or an unclean shutdown");
  app.add_flag("-n,--dry-run", opt.dry_run, "print what would change; write nothing");
  app.add_option("-x,--next-transaction-id", opt.x, "next transaction ID");
  app.add_option("-u,--oldest-transaction-id", opt.u, "oldest transaction ID (9.6 on)");
  app.add_option("-e,--epoch", opt.e, "next transaction ID epoch");
  app.add_option("-m,--multixact-ids", opt.m, "next and oldest multitransaction ID: next,oldest");
  app.add_option("-O,--multixact-offset", opt.O, "next multitransaction offset");
  app.add_option("-l,--next-wal-file", opt.l, "minimum starting WAL file name for the new WAL");
  app.add_option("-c,--commit-timestamp-ids", opt.c, "oldest and newest commit-timestamp XIDs: oldest,newest (9.5 on)");
  app.add_option("-o,--next-oid", opt.o, "next OID");
  app.add_option("--wal-segsize", opt.wal_segsize, "WAL segment size in megabytes (11 on)");
  app.add_option("--char-signedness", opt.char_signedness, "default char signedness: signed or unsigned (18 on)");
  app.add_flag("--auto", opt.auto_values, "take every value pgrescue-plan derives that is not given");
  app.add_option("--wal-archive", opt.archives, "with --auto or --from-wal: archived WAL to read (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--rescue-dir", opt.rescue_dir, "where to keep replaced files (default <datadir>.pgrescue/<time>)");
  app.add_flag("--rebuild", opt.rebuild,
               "build a new pg_control from the cluster's files (when it is missing or unusable)");
  app.add_option("--catalog-version", opt.catalog_version, "with --rebuild: the catalog version, if no release "
                 "table entry or tablespace gives it");
  app.add_flag("--from-wal", opt.from_wal,
               "point pg_control at the newest usable checkpoint in WAL; crash recovery replays the rest");
  app.add_option("--checkpoint", opt.checkpoint, "with --from-wal: start from the checkpoint at this LSN instead");
  app.add_flag("--trust-pg-control", opt.trust_control, "reset with pg_control's version when PG_VERSION disagrees");
  auto* undo = app.add_option("--undo", opt.undo, "put back what a reset replaced (default: its newest rescue folder)")
                   ->expected(0, 1);
  if (auto exit_code = pgrescue::cli::Parse(app, argc, argv, kProgname)) return *exit_code;
  const auto data_dir = data_dir_option.Resolve(kProgname, false);
  if (!data_dir) return kExitUnusable;
  if (undo->count() > 0) return Undo(*data_dir, opt.undo.value_or(""));

  // Read.
  pgrescue::ResetRequest request;
  if (auto error = BuildRequest(opt, &request)) return Fail(*error);
  auto dir = pgrescue::ScanDataDir(*data_dir, opt.archives);
  if (!dir) return Fail(dir.error().ToString());
  if (dir->live.in_use()) return RefuseInUse(dir->live);
  if (dir->postmaster_pid) {
    return Refuse("lock file \"postmaster.pid\" exists, but the process it names is not running",
                  "it is left by a crash; make sure no server uses this directory (also from other "
                  "hosts on shared storage), remove postmaster.pid, and try again");
  }
  if (pgrescue::ControlNeedsRebuild(*dir) && !opt.rebuild) {
    return Fail(fmt::format("global/pg_control is {}; --rebuild builds a new one from the cluster's files "
                            "(try it with -n first)",
                            !dir->control_present    ? "missing"
                            : !dir->control->ok()    ? "unusable: " + dir->control->error().message
                                                     : "damaged beyond use (bad CRC and implausible values)"));
  }
  std::optional<pgrescue::Rebuilt> rebuilt;
  const auto now = static_cast<int64_t>(time(nullptr));
  if (opt.rebuild) {
    const pgrescue::ControlLayout* version = dir->pg_version ? pgrescue::FindLayoutByMajor(*dir->pg_version) : nullptr;
    if (version == nullptr) {
      return Fail("--rebuild needs PG_VERSION to name a supported version (9.4 to 19); write the major "
                  "version, such as 15, into it");
    }
    auto built = pgrescue::RebuildControlFile(*dir, *version, {opt.catalog_version, now});
    if (!built) return Fail(built.error().ToString());
    rebuilt = std::move(*built);
    std::cout << "Rebuilt pg_control for PostgreSQL " << version->major() << " from:\n";
    for (const auto& e : rebuilt->evidence) std::cout << "  " << e << "\n";
    for (const auto& w : rebuilt->warnings) std::cerr << kProgname << ": warning: " << w << "\n";
    std::cout << "\n";
    opt.auto_values = !opt.from_wal;  // the counters can only come from the files, or from WAL
    request.keep_settings = true;
  }
  const pgrescue::ControlFile& current = rebuilt ? rebuilt->control : dir->control->value().control;
  const auto& layout = current.layout();
  if (!rebuilt && dir->pg_version && *dir->pg_version != layout.major() && !opt.trust_control) {
    return Fail(fmt::format("PG_VERSION says {} but pg_control is PostgreSQL {}'s; one of them is wrong. "
                            "Pass --trust-pg-control to reset as {}, or --rebuild to rebuild pg_control as {}",
                            *dir->pg_version, layout.major(), layout.major(), *dir->pg_version));
  }
  bool guessed = false;
  if (!rebuilt) {
    const auto& read = dir->control->value();
    guessed = !read.crc_ok();
    for (const auto& f : read.findings) {
      if (f.kind == pgrescue::FindingKind::kImplausibleValue) guessed = true;
      std::cerr << kProgname << ": warning: " << f.message << "\n";
    }
  }

  if (!opt.checkpoint.empty() && !opt.from_wal) return Fail("--checkpoint goes with --from-wal");
  if (opt.from_wal) {
    if (opt.auto_values || !opt.x.empty() || !opt.u.empty() || !opt.e.empty() || !opt.m.empty() || !opt.O.empty() ||
        !opt.c.empty() || !opt.o.empty() || !opt.l.empty() || !opt.wal_segsize.empty()) {
      return Fail("--from-wal takes every value from the checkpoint record; it does not go with --auto or "
                  "pg_resetwal's value options");
    }
    return FromWal(*data_dir, *dir, current, rebuilt.has_value(), opt, now);
  }

  // Decide.
  const auto pages = pgrescue::ScanDataPages(*dir, rebuilt || guessed ? nullptr : &current);
  if (opt.auto_values) {
    pgrescue::PlanOptions plan_options;
    plan_options.pages = &pages;
    auto plan = pgrescue::MakePlan(*dir, plan_options);
    if (!plan) return Fail(plan.error().ToString());
    TakePlannedValues(*plan, &request);
  }
  auto outcome = pgrescue::PlanReset(current, guessed, dir->wal, request, now);
  if (!outcome) return Fail(outcome.error().ToString());

  const pgrescue::Lsn new_start{outcome->new_segment * outcome->segment_size};
  if (auto refused = RefuseStartBelow(pgrescue::WalStartBounds(rebuilt ? nullptr : &current, pages.max), new_start,
                                      opt.force)) {
    std::cout << outcome->dry_run_report;
    return *refused;
  }

  // Print.
  if (opt.dry_run) {
    std::cout << outcome->dry_run_report;
    return kExitDone;
  }
  if (guessed && !opt.force) {
    std::cout << outcome->dry_run_report;
    return Refuse("not proceeding because control file values were guessed",
                  "if these values seem acceptable, use -f to force reset");
  }
  if (current.value(pgrescue::Field::kState) != static_cast<uint64_t>(pgrescue::DbState::kShutdowned) &&
      !opt.force) {
    return Refuse("database server was not shut down cleanly; resetting the write-ahead log might cause "
                  "data to be lost",
                  "if its WAL is intact, start the server to run crash recovery instead; to reset anyway, "
                  "use -f");
  }

  // Keep, then write.
  auto owner = pgrescue::DataFileOwner(*data_dir);
  if (!owner) return Fail(owner.error().ToString());
  const uint64_t segment_size = outcome->segment_size;
  auto page = pgrescue::BuildResetWalPage(outcome->control, segment_size, ChooseMagic(layout, *dir));
  if (!page) return Fail(page.error().ToString());
  auto control_bytes = pgrescue::SerializeControlFile(outcome->control);
  if (!control_bytes) return Fail(control_bytes.error().ToString());
  const std::string rescue_dir = opt.rescue_dir.empty() ? pgrescue::DefaultRescueDir(*data_dir) : opt.rescue_dir;
  auto folder = pgrescue::RescueFolder::Create(*data_dir, rescue_dir, "WAL reset");
  if (!folder) return Fail(folder.error().ToString());
  for (const auto& relative : FilesToKeep(*dir, current.value(pgrescue::Field::kWalSegmentSize))) {
    if (auto r = folder->Keep(relative); !r) {
      return Fail(r.error().ToString() + "; files moved so far are in " + folder->dir() +
                  " and --undo puts them back");
    }
  }
  const std::string wal = std::filesystem::path(dir->wal.path).filename().string();
  const std::string segment =
      wal + "/" +
      pgrescue::WalSegmentName{static_cast<uint32_t>(outcome->control.value(pgrescue::Field::kThisTimeLineId)),
                               outcome->new_segment}
          .ToString(segment_size);
  owner->mode = 0600 | (owner->mode & 0040);  // group read follows the cluster's setting
  for (const auto& [relative, bytes, tail] :
       {std::tuple{std::string("global/pg_control"), &*control_bytes, uint64_t{0}},
        std::tuple{segment, &*page, segment_size - page->size()}}) {
    if (auto r = folder->WriteNew(relative, *bytes, tail, *owner); !r) {
      return Fail(r.error().ToString() + "; the old files are in " + folder->dir() + " and --undo puts them back");
    }
  }
  std::cout << layout.rules().reset_done_message << "\n";
  for (const char* signal : {"recovery.signal", "standby.signal", "recovery.conf"}) {
    if (std::filesystem::exists(*data_dir + "/" + signal)) {
      std::cout << signal << " is left in place: the server will start in "
                << (std::string(signal) == "standby.signal" ? "standby mode" : "archive recovery")
                << "; remove it first unless that is what you want\n";
    }
  }
  std::cout << fmt::format("Kept {} replaced file(s) in {}\nTo put them back: {} --undo '{}' -D '{}'\n",
                           folder->kept().size(), folder->dir(), kProgname, folder->dir(), *data_dir);
  return kExitDone;
}
