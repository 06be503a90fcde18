// Any bytes as a pg_filenode.map (after one byte choosing the version): the
// parser never reads outside the file, and whatever it accepts has the
// version's size, at most MAX_MAPPINGS mappings, and a CRC that matches.
#include <cstdlib>
#include <vector>

#include "libcontrol/base/bytes.h"
#include "libcontrol/base/crc.h"
#include "libcontrol/control/control_layout.h"
#include "libcontrol/catalogs/relation_map.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto layouts = pgrescue::AllControlLayouts();
  const auto& rules = layouts[data[0] % layouts.size()].rules();
  std::vector<uint8_t> file(data + 1, data + size);  // exactly sized, so ASan sees overreads
  const auto parsed = pgrescue::ParseRelationMap(file, rules);
  if (!parsed.ok()) return 0;
  if (file.size() != pgrescue::RelationMapSize(rules) || parsed->size() > rules.relmap_max_mappings) std::abort();
  const size_t crc_at = 8 + size_t{rules.relmap_max_mappings} * 8;
  if (pgrescue::Le32(file.data() + crc_at) != pgrescue::Crc32c(std::span(file).first(crc_at))) std::abort();
  return 0;
}
