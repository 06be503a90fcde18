// What salvage needs to know of tables before it reads them: each user
// table of a database as the server lists it, and which of its blocks the
// page check refused, with the rows on them by their line pointers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "libcontrol/base/result.h"
#include "libcontrol/catalogs/relation_names.h"
#include "libcontrol/pages/page_scan.h"
#include "libcontrol/salvage/pq.h"
#include "libcontrol/salvage/table_copy.h"

namespace pgrescue {

// Every ordinary table outside the system schemas, temporary ones left out,
// in schema and name order; its columns as COPY FROM takes them back.
Result<std::vector<TableToCopy>> ListTables(Connection& connection, int server_major, uint32_t block_size);

// What the page check found, by relation path (base/16384/16385).
struct PageDamage {
  std::map<std::string, std::set<uint64_t>> blocks;  // main forks' refused blocks
  std::string catalog_index;  // a damaged catalog index, "<name> block <n>: <why>"; empty when none
};
PageDamage DamageByRelation(const PageScanReport& report, const RelationNames& names);

// A block's normal line pointers, read from the original directory (which
// salvage never writes), past a garbage header where need be.
std::optional<uint32_t> RowsOnBlock(const std::string& data_dir, const std::string& relation, uint64_t block,
                                    uint32_t block_size, uint64_t blocks_per_segment);

}  // namespace pgrescue
