// Every relation file named from the catalogs, read without a server:
// pg_database through the shared map, then in each database pg_class
// through its map (so a rewritten pg_class still resolves) and
// pg_namespace through pg_class. Tuples are chosen by their hint bits
// alone (pg_xact is not read): of the versions of one row, the one not
// deleted, else the newest insert.
//
// Checked against real servers 10-18 (tests/server/check_test.py). The 9.x
// catalogs are taken to lead with the same columns as 10's, and 19's with
// 18's.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "libcontrol/control/control_layout.h"

namespace pgrescue {

struct CatalogName {
  std::string name;  // database.schema.relation; schema.relation for shared catalogs
  std::string kind;  // table, index, sequence, TOAST table, materialized view, ...
  std::string parent;  // a TOAST table's table
};

struct RelationNames {
  // "global/<file number>" for shared catalogs, "<database oid>/<file number>" for the rest.
  std::map<std::string, CatalogName> by_file;
  std::vector<std::string> problems;  // catalogs that could not be read, and why

  // The name of a relation by its path as pgrescue-check lists it
  // ("base/5/16384", "global/1262", "pg_tblspc/16500/PG_15_202209061/5/16501"),
  // or nullptr.
  const CatalogName* Find(const std::string& relation) const;
};

RelationNames NameRelations(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size);

}  // namespace pgrescue
