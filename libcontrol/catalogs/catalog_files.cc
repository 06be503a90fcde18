#include "libcontrol/catalogs/catalog_files.h"

#include <set>

#include <fmt/format.h>

namespace pgrescue {
namespace {

constexpr uint32_t kBtreeAm = 403;  // BTREE_AM_OID, the same in every version

// "global/1262", "5/16384": the key RelationNames files names under.
std::string KeyOf(const std::string& relation) {
  if (relation.starts_with("global/")) return relation;
  const auto last = relation.rfind('/');
  const auto before = relation.rfind('/', last - 1);
  return relation.substr(before + 1);
}

std::string DatabaseOf(const std::string& key) { return key.substr(0, key.find('/')); }

bool HasStorage(char relkind) { return relkind == 'r' || relkind == 'i' || relkind == 't' || relkind == 'm' || relkind == 'S'; }

}  // namespace

std::vector<CatalogFinding> CheckRelationFiles(const RelationNames& names, const PageScanReport& report) {
  std::vector<CatalogFinding> out;
  std::set<std::string> present;
  for (const ScannedFile& s : report.scanned) {
    const RelationFile& f = s.file;
    if (f.fork != "main" || f.segment != 0) continue;
    const std::string key = KeyOf(f.relation);
    present.insert(key);
    if (f.size == 0 || !names.read_databases.contains(DatabaseOf(key))) continue;
    const CatalogName* n = names.Find(f.relation);
    if (n == nullptr) {
      out.push_back({key, "", fmt::format("{}: no pg_class row owns this file ({} bytes): an orphan", f.rel, f.size)});
    } else if (!n->live) {
      out.push_back({key, n->name,
                     fmt::format("{}: the file of {}, whose pg_class row was deleted (a dropped relation), still "
                                 "holds {} bytes: an orphan",
                                 f.rel, n->name, f.size)});
    }
  }
  for (const auto& [key, n] : names.by_file) {
    if (!n.certain || n.persistence == 't' || !HasStorage(n.relkind) || present.contains(key)) continue;
    if (!names.read_databases.contains(DatabaseOf(key))) continue;
    const std::string file = key.starts_with("global/") ? key : fmt::format("{} in database {}", key.substr(key.find('/') + 1), DatabaseOf(key));
    out.push_back({key, n.name, fmt::format("{} ({}) has no file: its first segment, file {}, is missing", n.name,
                                            n.kind, file)});
  }
  return out;
}

RelationFormat FormatOf(const RelationNames& names, const RelationFile& file) {
  const CatalogName* n = names.Find(file.relation);
  if (n == nullptr) return RelationFormat::kUnknown;
  if (HasHeapPages(*n)) return RelationFormat::kHeap;
  if (n->relkind == 'i' && n->relam == kBtreeAm) return RelationFormat::kBtree;
  return RelationFormat::kOther;
}

}  // namespace pgrescue
