// pgrescue-inspect: read pg_control and report it, as pg_controldata of the
// file's own version would, or as JSON. Reads only; never writes.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/cli.h"

#include "libcontrol/base/file_bytes.h"
#include "libcontrol/control/control_file.h"
#include "libcontrol/control/control_json.h"
#include "libcontrol/control/control_text.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/cluster/wal_geometry.h"
#include "libcontrol/wal/wal_report.h"

namespace {

constexpr int kExitClean = 0;
constexpr int kExitWarnings = 1;
constexpr int kExitUnusable = pgrescue::cli::kExitUnusable;
constexpr const char* kProgname = "pgrescue-inspect";

constexpr const char* kDescription =
    "Reads a PostgreSQL cluster's pg_control (9.4 to 19) and prints it exactly as that\n"
    "version's pg_controldata would, or as JSON with --json. With --wal, reads the cluster's\n"
    "WAL instead: where valid WAL ends and why, every checkpoint, what WAL proves was used.\n"
    "Reads only; writes nothing.\n";

constexpr const char* kFooter =
    "\nThe layout is chosen from the file itself (pg_control version, catalog version,\n"
    "CRC), so one binary reads every supported version. Times print in the local time\n"
    "zone like pg_controldata; set TZ=UTC to compare with another machine.\n"
    "\n"
    "--json prints the groups system, init, checkpoint and recovery with the keys and\n"
    "value forms of the server's pg_control_system(), pg_control_init(),\n"
    "pg_control_checkpoint() and pg_control_recovery(), plus a group control with\n"
    "everything else: state, settings, nonce, CRC stored and computed, layout, findings.\n"
    "\n"
    "--wal finds the newest checkpoint crash recovery could start from by reading the newest\n"
    "segments backwards (page headers mark where records start), then validates every record\n"
    "from its redo point to the end of WAL: CRC, back-links, page headers. --full validates\n"
    "every record from the oldest segment instead, as pg_waldump does. The version, segment\n"
    "and page size come from pg_control, or from PG_VERSION and the WAL's long page headers\n"
    "when pg_control is lost. \"Proven by WAL\" lists the newest XID, OID, MultiXact and\n"
    "commit the validated records hold: values a reset must not go below.\n"
    "\n"
    "Exit status:\n"
    "  0  read cleanly (--wal: a usable checkpoint exists)\n"
    "  1  read, with warnings (CRC mismatch, implausible values, PG_VERSION disagrees;\n"
    "     --wal: no usable checkpoint, or a break in WAL before its end);\n"
    "     the values are shown but may be untrustworthy\n"
    "  2  unusable input (missing, empty, truncated, unknown version, other byte order)\n"
    "     or bad usage; nothing is printed on stdout\n"
    "\n"
    "Examples:\n"
    "  pgrescue-inspect /var/lib/postgresql/15/main\n"
    "  pgrescue-inspect --json -D \"$PGDATA\"\n"
    "  pgrescue-inspect --file /backup/pg_control.saved\n"
    "  pgrescue-inspect --wal -D \"$PGDATA\" --wal-archive /mnt/archive\n"
    "  pgrescue-inspect --wal --full --json -D \"$PGDATA\"\n";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

int Fail(const std::string& message) { return pgrescue::cli::Fail(kProgname, message); }

struct WalOptions {
  bool full = false;
  bool progress = false;
  std::optional<uint32_t> timeline;
  std::vector<std::string> archives;
};

int InspectWal(const std::string& data_dir, const WalOptions& w, bool json) {
  auto dir = pgrescue::ScanDataDir(data_dir, w.archives);
  if (!dir) return Fail(dir.error().ToString());
  auto geometry = pgrescue::WalScanOptionsFor(*dir, w.full ? pgrescue::WalScanMode::kFull
                                                           : pgrescue::WalScanMode::kLatestCheckpoint);
  if (!geometry) return Fail(geometry.error().ToString());
  auto& options = geometry->options;
  options.timeline = w.timeline;
  if (w.progress) {
    options.progress = [](const pgrescue::WalScanProgress& p) {
      std::cerr << "\r" << p.segments_read << " segments read (" << p.segments_total << " present)";
    };
  }
  auto report = pgrescue::ScanWal(options);
  if (w.progress) std::cerr << "\n";
  if (!report) return Fail(report.error().ToString());
  if (json) {
    auto doc = pgrescue::WalReportToJson(*report, options);
    doc["geometry"] = geometry->why;
    std::cout << doc.dump(2) << "\n";
  } else {
    for (const auto& why : geometry->why) std::cout << "Read as " << why << "\n";
    std::cout << "\n" << pgrescue::FormatWalReport(*report, options);
  }
  std::cout.flush();
  if (!std::cout) return Fail("could not write the report to standard output");
  return report->NewestUsable() != nullptr && report->breaks.empty() ? kExitClean : kExitWarnings;
}

// pg_control at `path` as pg_controldata prints it, or as JSON; `data_dir`
// (empty with --file) for the PG_VERSION comparison.
int InspectControl(const std::string& path, const std::string& data_dir, bool json) {
  auto read = pgrescue::ReadControlFile(path);
  if (!read) return Fail(read.error().ToString());

  int status = read->findings.empty() ? kExitClean : kExitWarnings;
  std::string pg_version_warning;
  if (!data_dir.empty()) {
    const auto text = pgrescue::ReadSmallText(data_dir + "/PG_VERSION", 4096);
    const std::string pg_version = text ? text->substr(0, text->find('\n')) : "";
    if (text && !Trim(pg_version).empty() && Trim(pg_version) != read->control.layout().major()) {
      pg_version_warning = "PG_VERSION says " + Trim(pg_version) + " but pg_control is PostgreSQL " +
                           std::string(read->control.layout().major()) + "'s";
      status = kExitWarnings;
    }
  }

  if (json) {
    auto doc = pgrescue::ControlFileToJson(*read);
    if (!pg_version_warning.empty()) doc["control"]["findings"].push_back(pg_version_warning);
    std::cout << doc.dump(2) << "\n";
  } else {
    const auto report = pgrescue::FormatControlData(*read, kProgname);
    std::cerr << report.err;
    std::cout << report.out;
    // pg_controldata says nothing beyond its own warnings; ours go to stderr
    // so stdout stays identical to it.
    for (const auto& f : read->findings) {
      if (f.kind != pgrescue::FindingKind::kCrcMismatch) {
        std::cerr << kProgname << ": warning: " << f.message << "\n";
      }
    }
    if (!pg_version_warning.empty()) std::cerr << kProgname << ": warning: " << pg_version_warning << "\n";
  }
  std::cout.flush();
  return std::cout ? status : Fail("could not write the report to standard output");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(kDescription, kProgname);
  app.footer(kFooter);
  pgrescue::cli::DataDirOption data_dir_option(app);
  std::string file;
  bool json = false;
  app.add_option("--file", file, "read this pg_control file instead of DATADIR/global/pg_control");
  app.add_flag("--json", json, "print JSON instead of pg_controldata's text");
  bool wal = false;
  WalOptions w;
  app.add_flag("--wal", wal, "read the WAL: end of valid WAL, checkpoints, what WAL proves was used");
  app.add_flag("--full", w.full, "with --wal: validate every record from the oldest segment on");
  app.add_option("--wal-archive", w.archives, "with --wal: also read segments from this directory (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--timeline", w.timeline, "with --wal: follow this timeline instead of the newest");
  app.add_flag("-P,--progress", w.progress, "with --wal: show progress on standard error");
  if (auto exit_code = pgrescue::cli::Parse(app, argc, argv, kProgname)) return *exit_code;

  if (!wal && (w.full || w.progress || w.timeline || !w.archives.empty())) {
    return Fail("--full, --wal-archive, --timeline and --progress go with --wal");
  }
  if (wal && !file.empty()) return Fail("--wal reads a data directory's WAL; it does not go with --file");
  if (wal) {
    auto resolved = data_dir_option.Resolve(kProgname);
    if (!resolved) return kExitUnusable;
    std::error_code ec;
    if (!std::filesystem::is_directory(*resolved, ec)) {
      return Fail("data directory \"" + *resolved + "\" does not exist or is not a directory");
    }
    return InspectWal(*resolved, w, json);
  }
  if (!file.empty() && data_dir_option.given()) {
    return Fail("give either --file or a data directory, not both");
  }
  std::string data_dir;
  if (file.empty()) {
    auto resolved = data_dir_option.Resolve(kProgname);
    if (!resolved) return kExitUnusable;
    data_dir = *resolved;
  }
  if (file.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(data_dir, ec)) {
      return Fail("data directory \"" + data_dir + "\" does not exist or is not a directory");
    }
    if (!std::filesystem::exists(data_dir + "/global/pg_control", ec)) {
      return Fail("\"" + data_dir + "/global/pg_control\" is missing: the cluster has lost its "
                  "control file. Look for a copy in a backup, or rebuild it from the cluster's other "
                  "files");
    }
  }
  const std::string path = !file.empty() ? file : data_dir + "/global/pg_control";

  return InspectControl(path, data_dir, json);
}
