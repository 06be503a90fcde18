// pg_filenode.map: where the mapped catalogs live. They have relfilenode 0
// in pg_class (pg_class itself among them), so after a VACUUM FULL of one
// only this file knows its file number. One map in global/ for the shared
// catalogs, one in each base/<database>/.
//
// Layout (relmapper.c): int32 magic 0x592717, int32 num_mappings, then
// {Oid mapoid; Oid mapfilenode} × MAX_MAPPINGS, then a CRC-32C of all that;
// up to 15 an int32 of padding follows (62 mappings, 512 bytes), from 16 not
// (64 mappings, 524 bytes). The version table says which.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "libcontrol/base/result.h"
#include "libcontrol/control/control_layout.h"

namespace pgrescue {

struct RelationMapping {
  uint32_t oid = 0;       // the catalog's OID (pg_class.oid)
  uint32_t filenode = 0;  // its file number
};

constexpr uint32_t kRelationMapMagic = 0x592717;

// The file's size for a version.
size_t RelationMapSize(const VersionRules& rules);

// Parses a whole map file. Refuses what the server refuses, in its words:
// a wrong size for the version, a wrong magic or a count outside 0 to
// MAX_MAPPINGS ("contains invalid data"), and a CRC mismatch ("contains
// incorrect checksum").
Result<std::vector<RelationMapping>> ParseRelationMap(std::span<const uint8_t> bytes, const VersionRules& rules);

}  // namespace pgrescue
