// pgrescue-check: judge every data page of a stopped or crashed cluster as
// the server would on read, and name every damaged block. Reads only.
#include <algorithm>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "tools/cli.h"

#include "libcontrol/cluster/control_trust.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/catalogs/check_report.h"

namespace {

constexpr int kExitClean = 0;
constexpr int kExitDamage = 1;
constexpr int kExitUnusable = pgrescue::cli::kExitUnusable;
constexpr const char* kProgname = "pgrescue-check";

constexpr const char* kDescription =
    "Checks every data page of a PostgreSQL cluster (9.4 to 19) as the server checks it on read:\n"
    "the page header's sanity rule and, where pg_control says the cluster has data checksums,\n"
    "the checksum. Works on a cluster in any state, a crashed one included (pg_checksums\n"
    "refuses those), reads every relation file under global/, base/ and pg_tblspc/ with all\n"
    "forks and segments, and reports each damaged block with the server's own words, then a\n"
    "summary per relation and totals. Reads only; writes nothing.\n";

constexpr const char* kFooter =
    "\nWhat is reported:\n"
    "  <file> block <n>: page verification failed, calculated checksum C but expected S\n"
    "  <file> block <n>: invalid page header: flags ..., lower ..., upper ..., special ...\n"
    "  <file> block <n>: pd_upper 0 (never initialized) but not all zeros\n"
    "  <file>: <size> bytes is not a multiple of the block size ...\n"
    "  <file>: missing / shorter than a full segment, yet a later segment exists\n"
    "  <file> block <n>: index contains corrupted page at block <n>: special space is ...\n"
    "  <file> block <n> offset <o>: line pointer ... / tuple data should begin at byte ...\n"
    "      (amcheck's verify_heapam words; XIDs past pg_control's next only on a cleanly\n"
    "      shut down cluster, since after a crash the pages may be ahead of it)\n"
    "  catalog: pg_attribute catalog is missing N attribute(s) for relation OID M\n"
    "  catalog: <relation> has no file / <file>: no pg_class row owns this file: an orphan\n"
    "For a damaged heap block, the rows it held are counted by its line pointers when\n"
    "pd_lower allows.\n"
    "Block numbers count across segments, as the server and pg_checksums count them.\n"
    "Relations are named database.schema.relation from the catalogs, read without a server\n"
    "(pg_database, and in each database pg_class through pg_filenode.map, and pg_namespace);\n"
    "where a catalog cannot be read, a warning says which and its relations keep their file names.\n"
    "\n"
    "Exit status:\n"
    "  0  every block is readable\n"
    "  1  damaged blocks, tuples, files or catalog rows were found\n"
    "  2  unusable input or bad usage\n"
    "\n"
    "Examples:\n"
    "  pgrescue-check /var/lib/postgresql/15/main\n"
    "  pgrescue-check -D \"$PGDATA\" --jobs 4 -P\n"
    "  pgrescue-check --relation public.orders /var/lib/postgresql/15/main\n"
    "  pgrescue-check --json /var/lib/postgresql/15/main > check.json\n";

int Fail(const std::string& message) { return pgrescue::cli::Fail(kProgname, message); }

// pg_checksums' progress line: "<done>/<total> MB (<percent>%) computed".
void ShowProgress(uint64_t done, uint64_t total) {
  const uint64_t mb = uint64_t{1} << 20;
  std::cerr << fmt::format("\r{}/{} MB ({}%) checked", done / mb, total / mb, total ? done * 100 / total : 100);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(kDescription, kProgname);
  app.footer(kFooter);
  pgrescue::cli::DataDirOption data_dir_option(app);
  unsigned jobs = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  bool json = false;
  bool progress = false;
  std::vector<std::string> relations;
  app.add_option("-j,--jobs", jobs, "read this many files at once (default: the number of CPUs, at most 8)")
      ->check(CLI::Range(1u, 256u));
  app.add_option("-r,--relation", relations,
                 "check only this relation, with its TOAST table and indexes: database.schema.relation, "
                 "schema.relation or relation (repeatable)")
      ->allow_extra_args(false);
  app.add_flag("--json", json, "print the report as JSON");
  app.add_flag("-P,--progress", progress, "show progress on standard error");
  if (auto exit_code = pgrescue::cli::Parse(app, argc, argv, kProgname)) return *exit_code;
  const auto data_dir = data_dir_option.Resolve(kProgname);
  if (!data_dir) return kExitUnusable;

  // Read: the directory, and whether pg_control can say how pages look.
  auto dir = pgrescue::ScanDataDir(*data_dir, {});
  if (!dir) return Fail(dir.error().ToString());
  const auto trust = pgrescue::JudgeControl(*dir, nullptr);

  // Check every page.
  pgrescue::PageScanOptions options;
  const auto setup = pgrescue::SetUpCheck(*dir, trust, relations, &options);
  if (!setup) return Fail(setup.error().ToString());
  options.jobs = jobs;
  if (progress) options.progress = ShowProgress;
  auto report = pgrescue::ScanPageLsns(options);
  if (progress) std::cerr << "\n";
  if (!report) return Fail(report.error().ToString());

  // Report.
  if (json) {
    std::cout << pgrescue::CheckReportJson(*report, *setup).dump(2) << "\n";
  } else {
    std::cout << pgrescue::CheckReportText(*report, *setup);
  }
  if (!std::cout) return kExitUnusable;
  return pgrescue::FoundDamage(*report, *setup) ? kExitDamage : kExitClean;
}
