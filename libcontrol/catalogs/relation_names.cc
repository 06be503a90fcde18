#include "libcontrol/catalogs/relation_names.h"

#include <dirent.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/catalogs/relation_map.h"
#include "libcontrol/pages/heap_tuples.h"
#include "libcontrol/slru/xact_status.h"

namespace pgrescue {
namespace {

constexpr uint32_t kPgAttributeOid = 1249;
constexpr uint32_t kPgAuthidOid = 1260;
constexpr uint32_t kPgClassOid = 1259;
constexpr uint32_t kPgDatabaseOid = 1262;
constexpr uint32_t kPgIndexOid = 2610;
constexpr uint32_t kPgNamespaceOid = 2615;
constexpr size_t kNameLength = 64;  // NAMEDATALEN
constexpr uint32_t kBootstrapSuperuserId = 10;  // initdb's superuser, whatever its name

namespace fs = std::filesystem;

enum class Known : uint8_t { kNo, kYes, kMaybe };

// Whether a row version's insert and delete happened, by its hint bits and,
// where they say nothing, by pg_xact; kMaybe where neither can tell (a
// MultiXact, a transaction in progress at a crash, pg_xact lost).
class Visibility {
 public:
  explicit Visibility(XactStatusReader* xact) : xact_(xact) {}
  Known Inserted(const HeapTuple& t) {
    if (t.xmin_committed()) return Known::kYes;  // frozen too
    if (t.xmin_aborted()) return Known::kNo;
    return ByXact(t.xmin);
  }
  Known Deleted(const HeapTuple& t) {
    if (t.not_deleted()) return Known::kNo;
    if (t.xmax_is_multixact()) return Known::kMaybe;
    if ((t.infomask & heap::kXmaxCommitted) != 0) return Known::kYes;
    return ByXact(t.xmax);
  }

 private:
  Known ByXact(uint32_t xid) {
    // BootstrapTransactionId and FrozenTransactionId: committed, never in pg_xact.
    if (xid == 1 || xid == 2) return Known::kYes;
    const auto s = xact_->Status(xid);
    if (s == XactStatus::kCommitted) return Known::kYes;
    if (s == XactStatus::kAborted) return Known::kNo;
    return Known::kMaybe;
  }
  XactStatusReader* xact_;
};

// One catalog row's leading columns, as far as naming needs them.
struct Row {
  uint32_t oid = 0;
  std::string name;
  uint32_t xmin = 0;
  bool live = false;     // not known gone: its insert not aborted, its delete not committed
  bool certain = false;  // known current: inserted, and not deleted
  uint32_t relnamespace = 0, relam = 0, relfilenode = 0, reltoastrelid = 0;
  uint16_t relnatts = 0;
  bool relisshared = false;
  char relkind = 0, relpersistence = 'p';
};

std::string NameAt(std::span<const uint8_t> data, size_t at) {
  const auto* p = reinterpret_cast<const char*>(data.data() + at);
  return std::string(p, strnlen(p, kNameLength));
}

// A database's directory: base/<oid>, or pg_tblspc/<ts>/PG_*/<oid> when its
// default tablespace is another.
std::string DatabaseDir(const std::string& root, const std::string& oid) {
  const std::string base = "base/" + oid;
  if (fs::is_directory(root + "/" + base)) return base;
  std::error_code ec;
  for (const auto& ts : fs::directory_iterator(root + "/pg_tblspc", ec)) {
    for (const auto& version : fs::directory_iterator(ts.path(), ec)) {
      if (fs::is_directory(version.path() / oid, ec)) {
        return "pg_tblspc/" + ts.path().filename().string() + "/" + version.path().filename().string() + "/" + oid;
      }
    }
  }
  return base;
}

struct Reader {
  std::string root;
  const VersionRules& rules;
  uint32_t block_size;
  RelationNames* out;
  Visibility visibility;

  // Every row whose leading columns fit: an OID column first from 12 on,
  // the OID in the header before; then a name. Of several versions of a
  // row: the live one, else the newest insert.
  std::map<uint32_t, Row> Rows(std::span<const uint8_t> bytes, size_t min_size,
                               const std::function<void(std::span<const uint8_t>, size_t, Row*)>& more) {
    std::map<uint32_t, Row> rows;
    const size_t base = rules.catalog_oid_column ? 4 : 0;
    ForEachHeapTuple(bytes, block_size, [&](const HeapTuple& t) {
      const Known inserted = visibility.Inserted(t);
      if (inserted == Known::kNo || t.data.size() < base + kNameLength + min_size) return;
      Row r;
      if (rules.catalog_oid_column) r.oid = Le32(t.data.data());
      else if (t.header_oid) r.oid = *t.header_oid;
      else return;
      r.name = NameAt(t.data, base);
      r.xmin = t.xmin;
      const Known deleted = visibility.Deleted(t);
      r.live = deleted != Known::kYes;
      r.certain = inserted == Known::kYes && deleted == Known::kNo;
      if (more) more(t.data, base + kNameLength, &r);
      auto [it, added] = rows.emplace(r.oid, r);
      if (!added && std::make_pair(r.live, r.xmin) > std::make_pair(it->second.live, it->second.xmin)) it->second = r;
    });
    return rows;
  }

  std::map<uint32_t, Row> ClassRows(std::span<const uint8_t> bytes) {
    // After relname: relnamespace, reltype, reloftype, relowner, relam,
    // relfilenode, reltablespace, relpages, reltuples, relallvisible,
    // [relallfrozen], reltoastrelid, relhasindex, relisshared,
    // relpersistence, relkind, relnatts.
    const size_t toast = 40 + (rules.pg_class_has_relallfrozen ? 4 : 0);
    return Rows(bytes, toast + 10, [&](std::span<const uint8_t> d, size_t at, Row* r) {
      r->relnamespace = Le32(d.data() + at);
      r->relam = Le32(d.data() + at + 16);
      r->relfilenode = Le32(d.data() + at + 20);
      r->reltoastrelid = Le32(d.data() + at + toast);
      r->relisshared = d[at + toast + 5] != 0;
      r->relpersistence = static_cast<char>(d[at + toast + 6]);
      r->relkind = static_cast<char>(d[at + toast + 7]);
      r->relnatts = Le16(d.data() + at + toast + 8);
    });
  }

  // pg_index: indexrelid, indrelid, indnatts, [indnkeyatts], indisunique,
  // [indnullsnotdistinct], indisprimary; no OID, no name.
  struct IndexRow {
    uint32_t table = 0;
    bool unique = false, primary = false;
  };
  std::map<uint32_t, IndexRow> IndexRows(std::span<const uint8_t> bytes) {
    const size_t unique_at = 10 + (rules.pg_index_has_nkeyatts ? 2 : 0);
    const size_t primary_at = unique_at + 1 + (rules.pg_index_has_nulls_not_distinct ? 1 : 0);
    std::map<uint32_t, IndexRow> rows;
    ForEachHeapTuple(bytes, block_size, [&](const HeapTuple& t) {
      if (t.data.size() > primary_at && visibility.Inserted(t) != Known::kNo && visibility.Deleted(t) != Known::kYes) {
        rows[Le32(t.data.data())] = {Le32(t.data.data() + 4), t.data[unique_at] != 0, t.data[primary_at] != 0};
      }
    });
    return rows;
  }

  // pg_attribute: attrelid, attname, atttypid, [attstattarget], attlen,
  // attnum. The user columns (attnum > 0) each relation has a live row for.
  std::map<uint32_t, uint16_t> AttributeCounts(std::span<const uint8_t> bytes) {
    const size_t attnum_at = 4 + kNameLength + 4 + (rules.pg_attribute_fixed_stattarget ? 4 : 0) + 2;
    std::set<std::pair<uint32_t, int16_t>> columns;
    ForEachHeapTuple(bytes, block_size, [&](const HeapTuple& t) {
      if (t.data.size() < attnum_at + 2) return;
      if (visibility.Inserted(t) == Known::kNo || visibility.Deleted(t) == Known::kYes) return;
      const auto attnum = static_cast<int16_t>(Le16(t.data.data() + attnum_at));
      if (attnum > 0) columns.emplace(Le32(t.data.data()), attnum);
    });
    std::map<uint32_t, uint16_t> counts;
    for (const auto& [relid, attnum] : columns) ++counts[relid];
    return counts;
  }

  std::optional<std::map<uint32_t, uint32_t>> Map(const std::string& dir) {
    const std::string path = root + "/" + dir + "/pg_filenode.map";
    auto bytes = ReadRelation(path);  // one file, no segments: reads it whole
    if (!bytes) {
      out->problems.push_back(fmt::format("{}/pg_filenode.map: cannot be read", dir));
      return std::nullopt;
    }
    auto parsed = ParseRelationMap(*bytes, rules);
    if (!parsed) {
      out->problems.push_back(fmt::format("{}/pg_filenode.map: {}", dir, parsed.error().message));
      return std::nullopt;
    }
    std::map<uint32_t, uint32_t> map;
    for (const auto& m : *parsed) map[m.oid] = m.filenode;
    return map;
  }

  std::optional<std::vector<uint8_t>> Relation(const std::string& dir, uint32_t filenode, const char* what) {
    auto bytes = ReadRelation(fmt::format("{}/{}/{}", root, dir, filenode));
    if (!bytes) {
      out->problems.push_back(fmt::format("{}/{}: {} cannot be read", dir, filenode, what));
      return std::nullopt;
    }
    return std::move(*bytes);
  }

  // A catalog of this database by its pg_class row, mapped or not.
  std::optional<std::vector<uint8_t>> Catalog(const std::string& dir, const std::map<uint32_t, Row>& classes,
                                              const std::map<uint32_t, uint32_t>& map, uint32_t oid, const char* what) {
    uint32_t filenode = 0;
    if (const auto it = classes.find(oid); it != classes.end()) filenode = it->second.relfilenode;
    if (filenode == 0 && map.contains(oid)) filenode = map.at(oid);
    if (filenode == 0) {
      out->problems.push_back(fmt::format("{}: {} has no pg_class row or mapping", dir, what));
      return std::nullopt;
    }
    return Relation(dir, filenode, what);
  }

  void Database(const std::string& oid_text, const std::string& datname,
                const std::optional<std::map<uint32_t, uint32_t>>& shared_map);
};

std::string KindName(char relkind) {
  switch (relkind) {
    case 'r': return "table";
    case 'i': return "index";
    case 'S': return "sequence";
    case 't': return "TOAST table";
    case 'm': return "materialized view";
    default: return fmt::format("relkind '{}'", relkind);
  }
}

void Reader::Database(const std::string& oid_text, const std::string& datname,
                      const std::optional<std::map<uint32_t, uint32_t>>& shared_map) {
  const std::string dir = DatabaseDir(root, oid_text);
  const auto map = Map(dir);
  if (!map || !map->contains(kPgClassOid)) return;
  const auto pg_class = Relation(dir, map->at(kPgClassOid), "pg_class");
  if (!pg_class) return;
  out->read_databases.insert(oid_text);
  const auto classes = ClassRows(*pg_class);
  std::map<uint32_t, Row> namespaces;
  if (const auto bytes = Catalog(dir, classes, *map, kPgNamespaceOid, "pg_namespace")) {
    namespaces = Rows(*bytes, 0, nullptr);
  }
  std::map<uint32_t, uint32_t> parent;  // TOAST table or index -> table
  std::map<uint32_t, IndexRow> indexes;
  if (const auto bytes = Catalog(dir, classes, *map, kPgIndexOid, "pg_index")) indexes = IndexRows(*bytes);
  for (const auto& [index, row] : indexes) parent[index] = row.table;
  std::optional<std::map<uint32_t, uint16_t>> attributes;
  if (const auto bytes = Catalog(dir, classes, *map, kPgAttributeOid, "pg_attribute")) {
    attributes = AttributeCounts(*bytes);
  }
  for (const auto& [oid, r] : classes) {
    if (r.reltoastrelid != 0 && r.live) parent[r.reltoastrelid] = oid;
  }
  auto qualified = [&](const Row& r) {
    const auto ns = namespaces.find(r.relnamespace);
    const std::string schema = ns != namespaces.end() ? ns->second.name : fmt::format("{}", r.relnamespace);
    return (r.relisshared ? "" : datname + ".") + schema + "." + r.name;
  };
  for (const auto& [oid, r] : classes) {
    const auto& relmap = r.relisshared ? shared_map : map;
    uint32_t filenode = r.relfilenode;
    if (filenode == 0 && relmap && relmap->contains(oid)) filenode = relmap->at(oid);
    const std::string key =
        r.relisshared ? fmt::format("global/{}", filenode) : fmt::format("{}/{}", oid_text, filenode);
    CatalogName name{qualified(r), KindName(r.relkind), {}, oid, r.relkind, r.relpersistence, r.relam,
                     r.relnatts, r.live, r.certain, std::nullopt, false, false};
    if (const auto i = indexes.find(oid); i != indexes.end()) {
      name.unique_index = i->second.unique;
      name.primary_key = i->second.primary;
    }
    if (const auto p = parent.find(oid); p != parent.end()) {
      if (classes.contains(p->second)) {
        name.parent = qualified(classes.at(p->second));
      } else if (r.certain) {
        out->findings.push_back({filenode ? key : "", name.name,
                                 fmt::format("the {} of relation {}, which has no pg_class row", name.kind, p->second)});
      }
    }
    if (r.certain && r.reltoastrelid != 0 && !classes.contains(r.reltoastrelid)) {
      out->findings.push_back({filenode ? key : "", name.name,
                               fmt::format("its TOAST table {} has no pg_class row", r.reltoastrelid)});
    }
    if (attributes && !r.relisshared) {
      const auto it = attributes->find(oid);
      name.attributes = it == attributes->end() ? 0 : it->second;
      if (r.certain && *name.attributes < r.relnatts) {
        out->findings.push_back({filenode ? key : "", name.name,
                                 fmt::format("pg_attribute catalog is missing {} attribute(s) for relation OID {}",
                                             r.relnatts - *name.attributes, oid)});
      } else if (r.certain && *name.attributes > r.relnatts) {
        out->findings.push_back({filenode ? key : "", name.name,
                                 fmt::format("pg_attribute has {} columns for relid {}, but relnatts is {}",
                                             *name.attributes, oid, r.relnatts)});
      }
    }
    if (filenode == 0) continue;  // no storage
    // Shared catalogs have a row in every database; the first names them.
    out->by_file.emplace(key, std::move(name));
  }
}

}  // namespace

const CatalogName* RelationNames::Find(const std::string& relation) const {
  std::string key = relation;
  if (!relation.starts_with("global/")) {
    const auto last = relation.rfind('/');
    const auto before = last == std::string::npos ? std::string::npos : relation.rfind('/', last - 1);
    if (before == std::string::npos) return nullptr;
    key = relation.substr(before + 1);
  }
  const auto it = by_file.find(key);
  return it == by_file.end() ? nullptr : &it->second;
}

namespace {

std::map<uint32_t, Row> DatabaseRows(Reader& reader, const std::optional<std::map<uint32_t, uint32_t>>& shared_map) {
  if (!shared_map || !shared_map->contains(kPgDatabaseOid)) return {};
  const auto bytes = reader.Relation("global", shared_map->at(kPgDatabaseOid), "pg_database");
  return bytes ? reader.Rows(*bytes, 0, nullptr) : std::map<uint32_t, Row>{};
}

}  // namespace

std::vector<std::string> DatabaseNames(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size) {
  RelationNames unused;
  XactStatusReader xact(data_dir, layout, block_size);
  Reader reader{data_dir, layout.rules(), block_size, &unused, Visibility(&xact)};
  std::vector<std::string> names;
  for (const auto& [oid, row] : DatabaseRows(reader, reader.Map("global"))) {
    if (row.live) names.push_back(row.name);
  }
  return names;
}

std::optional<std::string> BootstrapSuperuser(const std::string& data_dir, const ControlLayout& layout,
                                              uint32_t block_size) {
  RelationNames unused;
  XactStatusReader xact(data_dir, layout, block_size);
  Reader reader{data_dir, layout.rules(), block_size, &unused, Visibility(&xact)};
  const auto shared_map = reader.Map("global");
  if (!shared_map || !shared_map->contains(kPgAuthidOid)) return std::nullopt;
  const auto bytes = reader.Relation("global", shared_map->at(kPgAuthidOid), "pg_authid");
  if (!bytes) return std::nullopt;
  const auto rows = reader.Rows(*bytes, 0, nullptr);
  const auto it = rows.find(kBootstrapSuperuserId);
  return it != rows.end() && it->second.live ? std::optional(it->second.name) : std::nullopt;
}

RelationNames NameRelations(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size) {
  RelationNames out;
  XactStatusReader xact(data_dir, layout, block_size);
  Reader reader{data_dir, layout.rules(), block_size, &out, Visibility(&xact)};
  const auto shared_map = reader.Map("global");
  const std::map<uint32_t, Row> databases = DatabaseRows(reader, shared_map);
  DIR* base = opendir((data_dir + "/base").c_str());
  if (base == nullptr) {
    out.problems.push_back("base: cannot be listed");
    return out;
  }
  std::vector<std::string> oids;
  while (const dirent* e = readdir(base)) {
    const std::string name = e->d_name;
    if (!name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      oids.push_back(name);
    }
  }
  closedir(base);
  // Databases whose default tablespace is another have no base/ directory.
  for (const auto& [oid, row] : databases) {
    if (row.live && !std::count(oids.begin(), oids.end(), fmt::format("{}", oid))) oids.push_back(fmt::format("{}", oid));
  }
  std::sort(oids.begin(), oids.end());
  for (const auto& oid : oids) {
    const auto db = databases.find(static_cast<uint32_t>(std::stoul(oid)));
    reader.Database(oid, db != databases.end() ? db->second.name : oid, shared_map);
  }
  if (shared_map) out.read_databases.insert("global");
  return out;
}

}  // namespace pgrescue
