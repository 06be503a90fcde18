// The PostgreSQL programs salvage runs (pg_ctl, pg_dump, pg_restore, psql,
// initdb), each with its output kept in a log file the DBA can read, and
// the privileges it runs with.
#pragma once

#include <string>
#include <vector>

#include "libcontrol/base/result.h"
#include "libcontrol/base/shell_words.h"

namespace pgrescue {

struct ProgramRun {
  int status = 0;       // the exit status; 128 + the signal when killed
  std::string output;   // standard output then standard error, the last 64 KiB
  bool ok() const { return status == 0; }
};

// Runs argv[0] (a path) with `argv`, LC_ALL=C so messages are the
// server's own English words, both outputs appended to `log_path`. Fails
// only when the program cannot be started.
Result<ProgramRun> RunProgram(const std::vector<std::string>& argv, const std::string& log_path);

// As root, becomes the owner of `data_dir` (group and supplementary groups
// too), as the server would run; first creates each of `own_dirs` that is
// missing and gives it to that owner. As anyone else, does nothing but
// create them. The server refuses to run as root.
Status BecomeDataDirOwner(const std::string& data_dir, const std::vector<std::string>& own_dirs);

}  // namespace pgrescue
