#include "libcontrol/salvage/salvage_tables.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "libcontrol/pages/heap_check.h"

namespace pgrescue {

Result<std::vector<TableToCopy>> ListTables(Connection& c, int server_major, uint32_t block_size) {
  const std::string generated = server_major >= 1200 ? " AND a.attgenerated = ''" : "";
  auto rows = c.Query(fmt::format(
      "SELECT c.oid, n.nspname, c.relname, pg_relation_filepath(c.oid), pg_relation_size(c.oid), "
      "coalesce(pg_relation_filepath(nullif(c.reltoastrelid, 0)), ''), "
      "(SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a "
      " WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped{}) "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind = 'r' AND c.relpersistence <> 't' "
      "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)' "
      "ORDER BY n.nspname, c.relname",
      generated));
  if (!rows) return rows.error();
  std::vector<TableToCopy> tables;
  for (const auto& r : *rows) {
    TableToCopy t;
    t.oid = static_cast<uint32_t>(std::stoul(r[0].value_or("0")));
    t.schema = r[1].value_or("");
    t.table = r[2].value_or("");
    t.file = r[3].value_or("");
    t.blocks = std::stoull(r[4].value_or("0")) / block_size;
    t.toast_file = r[5].value_or("");
    t.columns = r[6].value_or("");
    if (t.columns.empty()) continue;  // no columns: nothing to copy (pg_dump keeps it)
    tables.push_back(std::move(t));
  }
  return tables;
}

PageDamage DamageByRelation(const PageScanReport& report, const RelationNames& names) {
  PageDamage out;
  for (const auto& d : report.damaged) {
    const RelationFile& f = report.scanned[d.file].file;
    if (f.fork != "main") continue;
    out.blocks[f.relation].insert(d.block);
    const CatalogName* name = names.Find(f.relation);
    if (name != nullptr && name->relkind == 'i' && name->oid < kFirstNormalObjectId && out.catalog_index.empty()) {
      out.catalog_index = fmt::format("{} ({}) block {}: {}", name->name, f.relation, d.block, d.message);
    }
  }
  return out;
}

std::optional<uint32_t> RowsOnBlock(const std::string& data_dir, const std::string& relation, uint64_t block,
                                    uint32_t block_size, uint64_t blocks_per_segment) {
  const uint64_t segment = block / blocks_per_segment;
  const std::string path = data_dir + "/" + relation + (segment ? fmt::format(".{}", segment) : "");
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::vector<uint8_t> page(block_size);
  const auto n = pread(fd, page.data(), page.size(), static_cast<off_t>((block % blocks_per_segment) * block_size));
  close(fd);
  if (n != static_cast<ssize_t>(page.size())) return std::nullopt;
  return RowsByLinePointersPastHeader(page);
}

}  // namespace pgrescue
