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
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "libcontrol/control/control_layout.h"

namespace pgrescue {

// OIDs below this were assigned by initdb: the system catalogs' own.
constexpr uint32_t kFirstNormalObjectId = 16384;

struct CatalogName {
  std::string name;  // database.schema.relation; schema.relation for shared catalogs
  std::string kind;  // table, index, sequence, TOAST table, materialized view, ...
  std::string parent;  // a TOAST table's table, an index's table
  uint32_t oid = 0;
  char relkind = 0;
  char persistence = 'p';  // p permanent, u unlogged, t temporary
  uint32_t relam = 0;      // access method: 403 btree; tables 0 before 12, 2 (heap) from 12
  uint16_t relnatts = 0;
  bool live = true;        // the pg_class row is not known gone (by hint bits and pg_xact)
  bool certain = true;     // ... and known current: its insert committed, no delete committed
  std::optional<uint16_t> attributes;  // its pg_attribute rows with attnum > 0, when pg_attribute was read
  bool unique_index = false;   // an index whose pg_index row says indisunique
  bool primary_key = false;    // ... and indisprimary
};

// Tables, TOAST tables and materialized views keep their rows in heap pages.
inline bool HasHeapPages(const CatalogName& n) { return n.relkind == 'r' || n.relkind == 't' || n.relkind == 'm'; }

// A contradiction between catalogs, as the server would meet it.
struct CatalogFinding {
  std::string relation;  // "global/1262", "5/16384"; "" when it has no file
  std::string name;
  std::string message;   // "pg_attribute catalog is missing 1 attribute(s) for relation OID 16390", ...
};

struct RelationNames {
  // "global/<file number>" for shared catalogs, "<database oid>/<file number>" for the rest.
  std::map<std::string, CatalogName> by_file;
  std::vector<std::string> problems;  // catalogs that could not be read, and why
  std::vector<CatalogFinding> findings;  // attribute counts, TOAST and index links
  // "global" and the database OIDs whose pg_class was read: their files can
  // be judged orphans.
  std::set<std::string> read_databases;

  // The name of a relation by its path as pgrescue-check lists it
  // ("base/5/16384", "global/1262", "pg_tblspc/16500/PG_15_202209061/5/16501"),
  // or nullptr.
  const CatalogName* Find(const std::string& relation) const;
};

RelationNames NameRelations(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size);

// The databases pg_database names (rows not known gone), in OID order;
// empty when it cannot be read.
std::vector<std::string> DatabaseNames(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size);

// The name of the role initdb created (OID 10), from pg_authid; nullopt
// when it cannot be read.
std::optional<std::string> BootstrapSuperuser(const std::string& data_dir, const ControlLayout& layout,
                                              uint32_t block_size);

}  // namespace pgrescue
