// pgrescue-salvage: every readable row of a damaged cluster out, with the
// loss said exactly.
//
// The algorithm:
//  1. Refuse before writing anything: not a data directory, anything still
//     uses it, no server of its major version, an output folder in use.
//  2. Check every page (reading only), as pgrescue-check does: which blocks
//     of which tables the server will refuse, whether a catalog index is
//     damaged (then the server runs with ignore_system_indexes).
//  3. Become the data directory's owner; copy the directory (reflink where
//     possible) unless --in-place.
//  4. Start a private server on it (private_server.h).
//  5. Roles and tablespaces with pg_dumpall; each database with pg_dump,
//     leaving out the data of tables it cannot read; those are copied block
//     by block (table_copy.h). Without a usable pg_dump, every table is
//     copied that way and the report says there is no schema.
//  6. Stop the server; reload into a new cluster when asked (reload.h).
//  7. The report: per table rows saved and lost, each skipped block with the
//     server's words, and the exact restore commands.
#pragma once

#include <functional>
#include <string>

#include "libcontrol/base/result.h"
#include "libcontrol/salvage/salvage_report.h"

namespace pgrescue {

struct SalvageOptions {
  std::string data_dir;
  std::string out_dir;      // created if missing; must be empty
  std::string bindir;       // the server's (and pg_dump's) bin directory; empty: looked for
  unsigned jobs = 2;        // pg_dump and pg_restore jobs, page check threads
  bool zero_damaged_pages = false;
  bool in_place = false;
  std::string reload_dir;   // empty: no reload
  std::function<void(const std::string&)> progress;  // one line at a time; may be empty
};

// Fails, having written nothing, when a refusal applies; after that, every
// problem goes into the report, and the error is only for what stopped the
// run (the copy, the server not starting).
Result<SalvageReport> RunSalvage(const SalvageOptions& options);

}  // namespace pgrescue
