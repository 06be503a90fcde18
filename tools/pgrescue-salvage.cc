// pgrescue-salvage: get every readable row out of a stopped or damaged
// cluster, on a private server over a copy, and say exactly what was lost.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/cli.h"

#include "libcontrol/salvage/private_server.h"
#include "libcontrol/salvage/salvage.h"

namespace {

constexpr int kExitSaved = 0;
constexpr int kExitLost = 1;
constexpr int kExitUnusable = pgrescue::cli::kExitUnusable;
constexpr const char* kProgname = "pgrescue-salvage";

constexpr const char* kDescription =
    "Dumps every readable row of a PostgreSQL cluster that pg_dump alone cannot get out, and reports\n"
    "exactly what was lost. Works on a copy (a reflink where the filesystem allows), starts a private\n"
    "server on it that nobody else can reach, dumps roles and each database with pg_dump, and copies\n"
    "the tables pg_dump cannot read block by block, skipping only the blocks and rows that fail.\n"
    "The original data directory is never written (unless --in-place).\n";

constexpr const char* kFooter =
    "\nWhat it writes in --out:\n"
    "  report.json           the report (the text report goes to standard output)\n"
    "  globals.sql           roles and tablespaces (pg_dumpall --globals-only)\n"
    "  dump/<database>/      pg_dump --format=directory, without the data of unreadable tables\n"
    "  salvaged/<database>.sql  those tables' readable rows as COPY data, for psql -f\n"
    "  copy/                 the copy the private server ran on (delete it when done)\n"
    "  server.log, pg_dump.log, reload.*.log\n"
    "\n"
    "Exit status:\n"
    "  0  every row was saved\n"
    "  1  rows or blocks were lost, or the reload disagrees with the report\n"
    "  2  unusable input, a refusal, or a failure (nothing written to the data directory)\n"
    "\n"
    "Examples:\n"
    "  pgrescue-salvage /var/lib/postgresql/15/main --out /srv/salvage\n"
    "  pgrescue-salvage -D \"$PGDATA\" --out /srv/salvage --reload /srv/new15 --jobs 4 -P\n"
    "  pgrescue-salvage --bindir /usr/lib/postgresql/13/bin --out /srv/salvage /srv/pg13\n";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(kDescription, kProgname);
  app.footer(kFooter);
  pgrescue::cli::DataDirOption data_dir_option(app);
  pgrescue::SalvageOptions options;
  bool json = false, progress = false;
  app.add_option("-o,--out", options.out_dir, "write the dump, the report and the copy here (new or empty)")->required();
  app.add_option("--bindir", options.bindir, "the cluster's PostgreSQL bin directory (default: looked for)");
  app.add_option("-j,--jobs", options.jobs, "pg_dump and pg_restore jobs (default: 2)")->check(CLI::Range(1u, 64u));
  app.add_flag("--zero-damaged-pages", options.zero_damaged_pages,
               "read damaged pages as empty in the by-block copy (zero_damaged_pages); the loss is the same");
  app.add_flag("--in-place", options.in_place, "work on the data directory itself, not a copy: it is started and written");
  app.add_option("--reload", options.reload_dir, "initdb a new cluster here and restore everything into it");
  app.add_flag("--json", json, "print the report as JSON");
  app.add_flag("-P,--progress", progress, "show progress on standard error");
  if (auto exit_code = pgrescue::cli::Parse(app, argc, argv, kProgname)) return *exit_code;
  const auto data_dir = data_dir_option.Resolve(kProgname);
  if (!data_dir) return kExitUnusable;
  options.data_dir = *data_dir;
  if (progress) options.progress = [](const std::string& line) { std::cerr << kProgname << ": " << line << "\n"; };

  pgrescue::StopPrivateServersOnSignal();
  auto report = pgrescue::RunSalvage(options);
  if (!report) return pgrescue::cli::Fail(kProgname, report.error().ToString());

  const auto doc = pgrescue::SalvageReportJson(*report).dump(2);
  std::ofstream(options.out_dir + "/report.json") << doc << "\n";
  std::cout << (json ? doc + "\n" : pgrescue::SalvageReportText(*report));
  if (!std::cout) return kExitUnusable;
  return report->LostSomething() ? kExitLost : kExitSaved;
}
