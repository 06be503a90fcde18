#include "libcontrol/catalogs/relation_names.h"

#include <dirent.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/pages/heap_tuples.h"
#include "libcontrol/catalogs/relation_map.h"

namespace pgrescue {
namespace {

constexpr uint32_t kPgClassOid = 1259;
constexpr uint32_t kPgDatabaseOid = 1262;
constexpr uint32_t kPgNamespaceOid = 2615;
constexpr size_t kNameLength = 64;  // NAMEDATALEN

// One catalog row's leading columns, as far as naming needs them.
struct Row {
  uint32_t oid = 0;
  std::string name;
  uint32_t xmin = 0;
  bool live = false;
  uint32_t relnamespace = 0, relfilenode = 0, reltoastrelid = 0;
  bool relisshared = false;
  char relkind = 0;
};

std::string NameAt(std::span<const uint8_t> data, size_t at) {
  const auto* p = reinterpret_cast<const char*>(data.data() + at);
  return std::string(p, strnlen(p, kNameLength));
}

// Every row whose leading columns fit: an OID column first from 12 on,
// the OID in the header before; then a name.
std::map<uint32_t, Row> ReadRows(std::span<const uint8_t> bytes, uint32_t block_size, const VersionRules& rules,
                                 size_t min_size, const std::function<void(std::span<const uint8_t>, size_t, Row*)>& more) {
  std::map<uint32_t, Row> rows;
  const size_t base = rules.catalog_oid_column ? 4 : 0;
  ForEachHeapTuple(bytes, block_size, [&](const HeapTuple& t) {
    if (!t.inserted_not_aborted() || t.data.size() < base + kNameLength + min_size) return;
    Row r;
    if (rules.catalog_oid_column) r.oid = Le32(t.data.data());
    else if (t.header_oid) r.oid = *t.header_oid;
    else return;
    r.name = NameAt(t.data, base);
    r.xmin = t.xmin;
    r.live = t.not_deleted();
    if (more) more(t.data, base + kNameLength, &r);
    // Of several versions: the one not deleted, else the newest insert.
    auto [it, added] = rows.emplace(r.oid, r);
    if (!added && std::make_pair(r.live, r.xmin) > std::make_pair(it->second.live, it->second.xmin)) it->second = r;
  });
  return rows;
}

std::map<uint32_t, Row> ReadClassRows(std::span<const uint8_t> bytes, uint32_t block_size, const VersionRules& rules) {
  // After relname: relnamespace, reltype, reloftype, relowner, relam,
  // relfilenode, reltablespace, relpages, reltuples, relallvisible,
  // [relallfrozen], reltoastrelid, relhasindex, relisshared,
  // relpersistence, relkind.
  const size_t toast = 40 + (rules.pg_class_has_relallfrozen ? 4 : 0);
  return ReadRows(bytes, block_size, rules, toast + 8, [&](std::span<const uint8_t> d, size_t at, Row* r) {
    r->relnamespace = Le32(d.data() + at);
    r->relfilenode = Le32(d.data() + at + 20);
    r->reltoastrelid = Le32(d.data() + at + toast);
    r->relisshared = d[at + toast + 5] != 0;
    r->relkind = static_cast<char>(d[at + toast + 7]);
  });
}

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

struct Reader {
  std::string root;
  const VersionRules& rules;
  uint32_t block_size;
  RelationNames* out;

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

  void Database(const std::string& oid_text, const std::string& datname,
                const std::optional<std::map<uint32_t, uint32_t>>& shared_map) {
    const std::string dir = "base/" + oid_text;
    const auto map = Map(dir);
    if (!map || !map->contains(kPgClassOid)) return;
    const auto pg_class = Relation(dir, map->at(kPgClassOid), "pg_class");
    if (!pg_class) return;
    const auto classes = ReadClassRows(*pg_class, block_size, rules);
    std::map<uint32_t, Row> namespaces;
    if (const auto it = classes.find(kPgNamespaceOid); it != classes.end() && it->second.relfilenode != 0) {
      if (const auto bytes = Relation(dir, it->second.relfilenode, "pg_namespace")) {
        namespaces = ReadRows(*bytes, block_size, rules, 0, nullptr);
      }
    }
    std::map<uint32_t, uint32_t> toast_parent;
    for (const auto& [oid, r] : classes) {
      if (r.reltoastrelid != 0) toast_parent[r.reltoastrelid] = oid;
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
      if (filenode == 0) continue;  // no storage
      CatalogName name{qualified(r), KindName(r.relkind), {}};
      if (const auto p = toast_parent.find(oid); p != toast_parent.end() && classes.contains(p->second)) {
        name.parent = qualified(classes.at(p->second));
      }
      out->by_file.emplace(r.relisshared ? fmt::format("global/{}", filenode) : fmt::format("{}/{}", oid_text, filenode),
                           std::move(name));
    }
  }
};

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

RelationNames NameRelations(const std::string& data_dir, const ControlLayout& layout, uint32_t block_size) {
  RelationNames out;
  Reader reader{data_dir, layout.rules(), block_size, &out};
  const auto shared_map = reader.Map("global");
  std::map<uint32_t, Row> databases;
  if (shared_map && shared_map->contains(kPgDatabaseOid)) {
    if (const auto bytes = reader.Relation("global", shared_map->at(kPgDatabaseOid), "pg_database")) {
      databases = ReadRows(*bytes, block_size, layout.rules(), 0, nullptr);
    }
  }
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
  std::sort(oids.begin(), oids.end());
  for (const auto& oid : oids) {
    const auto db = databases.find(static_cast<uint32_t>(std::stoul(oid)));
    reader.Database(oid, db != databases.end() ? db->second.name : oid, shared_map);
  }
  return out;
}

}  // namespace pgrescue
