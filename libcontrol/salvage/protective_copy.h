// The copy salvage works on, so that the original data directory stays as
// it was: starting a server replays WAL and writes, and zero_damaged_pages
// writes zeros. A reflink (copy-on-write clone) where the filesystem can,
// else a full copy after checking that it fits. pg_wal and tablespaces
// behind symbolic links are copied too and their links pointed at the
// copies; a copy whose links still led to the original's files would let
// the server write there.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "libcontrol/base/result.h"

namespace pgrescue {

struct CopyOutcome {
  std::string method;  // "reflink" or "copy"
  uint64_t bytes = 0;  // allocated bytes of the original's files, links followed
  double seconds = 0;
};

// Refuses, before anything is written, output directories inside the
// cluster's files (its directory, pg_wal's and tablespaces' targets), and,
// for a copy, a symbolic link other than pg_wal's and the tablespaces' (the
// copy's server would write through it) or a top-level .conf file's.
Status CheckCopyable(const std::string& data_dir, bool in_place, const std::vector<std::string>& outputs);

// The bytes a full copy of `data_dir` needs (its pg_wal and tablespaces
// included).
uint64_t DataDirBytes(const std::string& data_dir);

// Copies `data_dir` to `dest` (which must not exist) with cp -a, logging to
// `log_path`; tablespaces go to `tablespace_dir`/<oid>. Refuses before
// writing anything when a full copy would not fit.
Result<CopyOutcome> CopyDataDirectory(const std::string& data_dir, const std::string& dest,
                                      const std::string& tablespace_dir, const std::string& log_path);

}  // namespace pgrescue
