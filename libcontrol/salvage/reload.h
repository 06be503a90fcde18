// The restore a DBA would run, run: a new cluster made like the original
// (major version, encoding, collation, checksums, WAL segment size), the
// report's restore commands against it in order, and every table's rows
// counted against the report. amcheck on 14 and later, when installed.
#pragma once

#include <string>
#include <vector>

#include "libcontrol/base/result.h"
#include "libcontrol/salvage/binaries.h"
#include "libcontrol/salvage/salvage_report.h"

namespace pgrescue {

// How the original was made, as its server says.
struct ClusterShape {
  std::string superuser, encoding, collate, ctype;
  bool checksums = false;
  std::string wal_segment_mb;  // "16"; empty before 11 (initdb cannot choose it)
};

// One restore step: a program in pg_dump's directory and its arguments,
// connection options left out (the DBA's defaults; the reload adds its own).
struct RestoreStep {
  std::string program;  // "psql", "pg_restore"
  std::vector<std::string> args;
};

struct ReloadRequest {
  PostgresPrograms server, client;
  ClusterShape shape;
  std::string data_dir, work_dir;
  std::vector<RestoreStep> steps;
};

// Fails when the cluster cannot be made or started; what the steps and the
// counts say goes into the outcome.
Result<ReloadOutcome> Reload(const ReloadRequest& request, const SalvageReport& report);

}  // namespace pgrescue
