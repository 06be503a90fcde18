// A new pg_control from evidence when the old one is lost: the version from
// PG_VERSION, identity and WAL geometry from WAL long page headers, block size
// and checksums from data pages, settings from postgresql.conf, counters from
// the planner. Each value says where it came from.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "libcontrol/control/control_file.h"
#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/base/result.h"

namespace pgrescue {

struct RebuildOptions {
  std::optional<uint32_t> catalog_version;  // when no release table entry or tablespace tells
  int64_t now = 0;
};

// Holds values only; `control` points at `layout`, a version table entry,
// which lives as long as the program.
struct Rebuilt {
  ControlFile control;
  std::vector<std::string> evidence;  // "value: source", one per decision
  std::vector<std::string> warnings;  // what could not be known and was chosen
};

Result<Rebuilt> RebuildControlFile(const DataDir& dir, const ControlLayout& layout, const RebuildOptions& options);

}  // namespace pgrescue
