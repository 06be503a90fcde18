// pgrescue-inspect: read pg_control and report it, as pg_controldata of the
// file's own version would, or as JSON. Reads only; never writes.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/cli.h"

#include "libcontrol/control_file.h"
#include "libcontrol/control_json.h"
#include "libcontrol/control_text.h"

namespace {

constexpr int kExitClean = 0;
constexpr int kExitWarnings = 1;
constexpr int kExitUnusable = pgrescue::cli::kExitUnusable;
constexpr const char* kProgname = "pgrescue-inspect";

constexpr const char* kDescription =
    "Reads a PostgreSQL cluster's pg_control (9.4 to 19) and prints it exactly as that\n"
    "version's pg_controldata would, or as JSON with --json. Reads only; writes nothing.\n";

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
    "Exit status:\n"
    "  0  read cleanly\n"
    "  1  read, with warnings (CRC mismatch, implausible values, PG_VERSION disagrees);\n"
    "     the values are shown but may be untrustworthy\n"
    "  2  unusable input (missing, empty, truncated, unknown version, other byte order)\n"
    "     or bad usage; nothing is printed on stdout\n"
    "\n"
    "Examples:\n"
    "  pgrescue-inspect /var/lib/postgresql/15/main\n"
    "  pgrescue-inspect --json -D \"$PGDATA\"\n"
    "  pgrescue-inspect --file /backup/pg_control.saved\n";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

int Fail(const std::string& message) { return pgrescue::cli::Fail(kProgname, message); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(kDescription, kProgname);
  app.footer(kFooter);
  pgrescue::cli::DataDirOption data_dir_option(app);
  std::string file;
  bool json = false;
  app.add_option("--file", file, "read this pg_control file instead of DATADIR/global/pg_control");
  app.add_flag("--json", json, "print JSON instead of pg_controldata's text");
  if (auto exit_code = pgrescue::cli::Parse(app, argc, argv, kProgname)) return *exit_code;

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

  auto read = pgrescue::ReadControlFile(path);
  if (!read) return Fail(read.error().ToString());

  int status = read->findings.empty() ? kExitClean : kExitWarnings;
  std::string pg_version_warning;
  if (!data_dir.empty()) {
    std::ifstream in(data_dir + "/PG_VERSION");
    std::string pg_version;
    if (in && std::getline(in, pg_version) && Trim(pg_version) != read->control.layout().major()) {
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
