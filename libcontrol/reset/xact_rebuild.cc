#include "libcontrol/reset/xact_rebuild.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "libcontrol/base/file_bytes.h"
#include "libcontrol/base/id_order.h"
#include "libcontrol/pages/btree_keys.h"
#include "libcontrol/pages/heap_tuples.h"
#include "libcontrol/slru/slru.h"

namespace pgrescue {
namespace {

constexpr uint8_t kStatusCommitted = 1, kStatusAborted = 2;

std::string XactDir(const ControlFile& control) { return std::string(control.layout().xact_dir()); }

// The segment's state, or nullopt when it holds every page the cluster needs.
std::optional<XactSegmentRebuild> JudgeSegment(const std::string& path, uint64_t segment, const SlruLayout& slru,
                                               uint64_t needed_pages, uint32_t block_size) {
  XactSegmentRebuild s;
  s.segment = segment;
  s.name = slru.FileName(segment);
  s.pages_written = needed_pages;
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      s.state = "unreadable";
      s.detail = std::strerror(errno);
      return s;
    }
    s.state = "missing";
    return s;
  }
  s.exists = true;
  if (!S_ISREG(st.st_mode)) {
    s.state = "unreadable";
    s.detail = "not a regular file";
    return s;
  }
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    s.state = "unreadable";
    s.detail = std::strerror(errno);
    return s;
  }
  close(fd);
  const uint64_t pages = static_cast<uint64_t>(st.st_size) / block_size;
  if (pages >= needed_pages) return std::nullopt;
  s.state = st.st_size == 0 ? "empty" : "truncated";
  if (st.st_size != 0) s.detail = fmt::format("{} of {} page(s)", pages, needed_pages);
  s.pages_kept = pages;
  s.pages_written = needed_pages - pages;
  return s;
}

// An unknown XID takes the caller's policy when rows depend on it or its
// evidence contradicts itself; any other stays 0.
bool UnknownToWrite(const XidDecision& d) {
  return d.verdict == XactVerdict::kUnknown && (d.needed || d.contradiction());
}

bool Committed(const XactRebuild& r, uint32_t xid, bool unknown_committed) {
  const auto it = r.evidence.decisions.find(xid);
  if (it == r.evidence.decisions.end()) return false;
  if (it->second.verdict == XactVerdict::kUnknown) return unknown_committed;
  return it->second.verdict == XactVerdict::kCommitted;
}

// The keys of `table`'s unique indexes that rows a reader sees would share
// with the unknown XIDs taken as `unknown_committed` says: the index's leaf
// entries whose HOT chain has a visible version, grouped by key bytes.
std::vector<RelationOutcome::Duplicates> Duplicates(const DataDir& dir, const RelationNames& names,
                                                    const RelationOutcome& table, const XactRebuild& r,
                                                    bool unknown_committed) {
  std::vector<RelationOutcome::Duplicates> out;
  const auto heap = ReadRelation(dir.root + "/" + table.path);
  if (!heap) return out;
  const std::string table_dir = table.path.substr(0, table.path.rfind('/'));
  auto committed = [&](uint32_t x) { return Committed(r, x, unknown_committed); };
  for (const auto& [key, index] : names.by_file) {
    if (!index.unique_index || index.parent != table.name) continue;
    const auto bytes = ReadRelation(dir.root + "/" + table_dir + "/" + key.substr(key.rfind('/') + 1));
    if (!bytes) continue;
    std::map<std::vector<uint8_t>, std::set<HeapTid>> seen;
    ForEachBtreeLeafEntry(*bytes, r.block_size, [&](std::span<const uint8_t> k, HeapTid tid) {
      if (RowVisible(*heap, r.block_size, tid.block, tid.offset, committed)) {
        seen[std::vector<uint8_t>(k.begin(), k.end())].insert(tid);
      }
    });
    RelationOutcome::Duplicates d{index.name, index.primary_key, {}};
    for (const auto& [k, tids] : seen) {
      if (tids.size() < 2) continue;
      std::vector<std::string> rows;
      for (const HeapTid& t : tids) rows.push_back(fmt::format("({},{})", t.block, t.offset));
      d.rows.push_back(std::move(rows));
    }
    if (!d.rows.empty()) out.push_back(std::move(d));
  }
  return out;
}

void CountRelations(const DataDir& dir, const ControlFile& control, XactRebuild* r) {
  const RelationNames names = NameRelations(dir.root, control.layout(), r->block_size);
  auto unknown = [&](uint64_t side) {
    if (side >= kSettledYes) return false;
    const auto it = r->evidence.decisions.find(static_cast<uint32_t>(side));
    return it != r->evidence.decisions.end() && it->second.verdict == XactVerdict::kUnknown;
  };
  for (const auto& [path, shapes] : r->evidence.shapes) {
    RelationOutcome o;
    o.path = path;
    if (const CatalogName* n = names.Find(path)) o.name = n->name;
    o.rows_if_committed = VisibleTuples(shapes, [&](uint32_t x) { return Committed(*r, x, true); });
    o.rows_if_aborted = VisibleTuples(shapes, [&](uint32_t x) { return Committed(*r, x, false); });
    for (const auto& [shape, n] : shapes) {
      if (unknown(shape.first)) o.inserted_by_unknown += n;
      if (unknown(shape.second)) o.deleted_by_unknown += n;
    }
    if ((o.inserted_by_unknown > 0 || o.deleted_by_unknown > 0) && !o.name.empty()) {
      o.duplicates_if_committed = Duplicates(dir, names, o, *r, true);
      o.duplicates_if_aborted = Duplicates(dir, names, o, *r, false);
    }
    r->relations.push_back(std::move(o));
  }
}

std::string SourceList(uint8_t bits) {
  std::string out;
  for (uint8_t s : xact_source::kAll) {
    if (bits & s) out += (out.empty() ? "" : ", ") + std::string(XactSourceName(s));
  }
  return out;
}

}  // namespace

bool XactRebuild::Rebuilt(uint32_t xid) const {
  const uint64_t per_segment = xids_per_page * pages_per_segment;
  for (const auto& s : segments) {
    const uint64_t first = s.segment * per_segment;
    if (xid >= first && xid < first + per_segment && (xid - first) / xids_per_page >= s.pages_kept) return true;
  }
  return false;
}

Result<XactRebuild> PlanXactRebuild(const DataDir& dir, const ControlFile& control, unsigned jobs) {
  auto evidence = GatherXactEvidence(dir, control, jobs);
  if (!evidence) return evidence.error();
  XactRebuild r;
  r.evidence = std::move(*evidence);
  r.block_size = static_cast<uint32_t>(control.value(Field::kBlockSize));
  const SlruLayout slru(SlruKind::kXact, control.layout(), r.block_size);
  r.xids_per_page = slru.entries_per_page();
  r.pages_per_segment = slru.pages_per_segment();
  // A page is needed when it holds an XID some tuple or record names, or
  // the next XID (the server reads that page at startup to clear its rest);
  // the pages a `pg_resetwal -x` jump skipped were never written and need not be.
  const uint32_t oldest = r.evidence.oldest_xid, last = r.evidence.next_xid - 1;
  const uint64_t first_seg = slru.SegmentOf(oldest), last_seg = slru.SegmentOf(last);
  const uint64_t count = slru.segment_count().value_or(UINT64_MAX);
  std::map<uint64_t, uint64_t> pages_needed;  // segment -> pages from its start
  auto need = [&](uint32_t xid) {
    const uint64_t seg = slru.SegmentOf(xid);
    const uint64_t pages = (xid - slru.FirstIdOf(seg)) / slru.entries_per_page() + 1;
    pages_needed[seg] = std::max(pages_needed[seg], pages);
  };
  for (const auto& [xid, d] : r.evidence.decisions) {
    if (!Precedes32(xid, oldest) && !Follows32(xid, last)) need(xid);
  }
  need(last);
  const std::string xact_dir = dir.root + "/" + XactDir(control);
  for (uint64_t seg = first_seg;; seg = (seg + 1) % count) {
    if (const auto it = pages_needed.find(seg); it != pages_needed.end()) {
      if (auto s = JudgeSegment(xact_dir + "/" + slru.FileName(seg), seg, slru, it->second, r.block_size)) {
        r.segments.push_back(std::move(*s));
      }
    }
    if (seg == last_seg) break;
  }
  for (const auto& [xid, d] : r.evidence.decisions) {
    if (!r.Rebuilt(xid)) continue;
    if (d.contradiction()) r.contradictions.push_back(xid);
    if (UnknownToWrite(d)) r.unknown.push_back(xid);
    r.referenced += d.referenced ? 1 : 0;
    r.needed += d.needed ? 1 : 0;
    if (d.verdict == XactVerdict::kUnknown) continue;
    ++r.decided;
    for (uint8_t s : xact_source::kAll) r.decided_by[s] += (d.sources() & s) ? 1 : 0;
  }
  CountRelations(dir, control, &r);
  return r;
}

Result<ResetWrites> WritesForXactRebuild(const DataDir& dir, const ControlFile& control, const XactRebuild& r,
                                         bool unknown_committed) {
  ResetWrites w;
  w.purpose = "pg_xact rebuilt from evidence";
  const uint64_t per_page = r.xids_per_page, per_segment = per_page * r.pages_per_segment;
  for (const auto& s : r.segments) {
    const std::string rel = XactDir(control) + "/" + s.name;
    std::vector<uint8_t> bytes;
    if (s.pages_kept > 0) {
      if (!AppendFileBytes(dir.root + "/" + rel, &bytes, s.pages_kept * r.block_size) ||
          bytes.size() < s.pages_kept * r.block_size) {
        return MakeError(ErrorCode::kIo, "cannot read its surviving pages", dir.root + "/" + rel);
      }
      bytes.resize(s.pages_kept * r.block_size);
    }
    bytes.resize((s.pages_kept + s.pages_written) * r.block_size, 0);
    const uint64_t first = s.segment * per_segment;
    for (uint64_t i = s.pages_kept * per_page; i < bytes.size() * 4; ++i) {
      const auto xid = static_cast<uint32_t>(first + i);
      const auto it = r.evidence.decisions.find(xid);
      if (it == r.evidence.decisions.end()) continue;
      const XidDecision& d = it->second;
      uint8_t status = 0;
      if (d.verdict == XactVerdict::kCommitted) status = kStatusCommitted;
      if (d.verdict == XactVerdict::kAborted) status = kStatusAborted;
      if (UnknownToWrite(d)) status = unknown_committed ? kStatusCommitted : kStatusAborted;
      bytes[i / 4] |= static_cast<uint8_t>(status << (i % 4 * 2));
    }
    if (s.exists) w.keep.push_back(rel);
    w.write.push_back({rel, std::move(bytes), 0});
  }
  return w;
}

Refusal UnknownXidsRefusal(const XactRebuild& r) {
  return Refusal{fmt::format("{} XID(s) that rows depend on have no evidence either way", r.unknown.size()),
                 "the report shows, per relation, the rows each choice gives; choose with --unknown committed "
                 "(their inserts stay, their deletes happen) or --unknown aborted (their inserts vanish, their "
                 "deletes are undone)",
                 {}};
}

std::string DescribeXactRebuild(const XactRebuild& r) {
  std::string out;
  for (const auto& line : r.evidence.read) out += "Read: " + line + "\n";
  out += "\npg_xact segments to rebuild:\n";
  for (const auto& s : r.segments) {
    out += fmt::format("  {}  {}{}: {} page(s) kept, {} written\n", s.name, s.state,
                       s.detail.empty() ? "" : " (" + s.detail + ")", s.pages_kept, s.pages_written);
  }
  out += fmt::format("\nXIDs in the rebuilt pages: {} referenced by tuples ({} needed by a reader), {} decided, "
                     "{} unknown\n",
                     r.referenced, r.needed, r.decided, r.unknown.size());
  out += "Decided by:";
  for (uint8_t s : xact_source::kAll) {
    const auto it = r.decided_by.find(s);
    out += fmt::format(" {} {};", XactSourceName(s), it == r.decided_by.end() ? 0 : it->second);
  }
  out.back() = '\n';
  if (!r.contradictions.empty()) {
    out += fmt::format("Contradictions ({}): these XIDs count as unknown\n", r.contradictions.size());
    for (uint32_t xid : r.contradictions) {
      const auto& d = r.evidence.decisions.at(xid);
      out += fmt::format("  XID {}: committed by {}; not committed by {}\n", xid, SourceList(d.committed_by),
                         SourceList(d.aborted_by));
    }
  }
  if (!r.unknown.empty()) {
    std::string list;
    for (size_t i = 0; i < r.unknown.size() && i < 20; ++i) list += fmt::format("{}{}", i ? ", " : "", r.unknown[i]);
    if (r.unknown.size() > 20) list += fmt::format(" and {} more", r.unknown.size() - 20);
    out += fmt::format("Unknown XIDs ({}): {}\nRelations whose rows depend on them:\n", r.unknown.size(), list);
    for (const auto& rel : r.relations) {
      if (rel.inserted_by_unknown == 0 && rel.deleted_by_unknown == 0) continue;
      out += fmt::format("  {} ({}): {} row(s) if they committed, {} if they aborted; {} tuple(s) inserted and {} "
                         "deleted by them\n",
                         rel.name.empty() ? "(not named)" : rel.name, rel.path, rel.rows_if_committed,
                         rel.rows_if_aborted, rel.inserted_by_unknown, rel.deleted_by_unknown);
      for (const bool committed : {true, false}) {
        for (const auto& d : committed ? rel.duplicates_if_committed : rel.duplicates_if_aborted) {
          std::string keys;
          for (size_t i = 0; i < d.rows.size() && i < 5; ++i) {
            keys += fmt::format("{}{}", i ? "; " : "", fmt::join(d.rows[i], " and "));
          }
          out += fmt::format("    if they {}, {} key(s) of {}{} would be duplicated: rows at ctid {}{}\n",
                             committed ? "committed" : "aborted", d.rows.size(), d.index,
                             d.primary_key ? " (primary key)" : "", keys,
                             d.rows.size() > 5 ? fmt::format(" and {} more", d.rows.size() - 5) : "");
        }
      }
    }
  }
  for (const auto& w : r.evidence.warnings) out += "Warning: " + w + "\n";
  return out;
}

namespace {

nlohmann::ordered_json SourceNames(uint8_t bits) {
  auto out = nlohmann::ordered_json::array();
  for (uint8_t s : xact_source::kAll) {
    if (bits & s) out.push_back(XactSourceName(s));
  }
  return out;
}

nlohmann::ordered_json DuplicatesJson(const std::vector<RelationOutcome::Duplicates>& list) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& d : list) {
    out.push_back({{"index", d.index}, {"primary_key", d.primary_key}, {"rows", d.rows}});
  }
  return out;
}

}  // namespace

nlohmann::ordered_json XactRebuildJson(const XactRebuild& r) {
  nlohmann::ordered_json j;
  j["segments"] = nlohmann::ordered_json::array();
  for (const auto& s : r.segments) {
    j["segments"].push_back({{"name", s.name}, {"state", s.state}, {"detail", s.detail},
                             {"pages_kept", s.pages_kept}, {"pages_written", s.pages_written}});
  }
  nlohmann::ordered_json by = nlohmann::ordered_json::object();
  for (uint8_t s : xact_source::kAll) {
    const auto it = r.decided_by.find(s);
    by[std::string(XactSourceName(s))] = it == r.decided_by.end() ? 0 : it->second;
  }
  auto decisions = nlohmann::ordered_json::array();
  for (const auto& [xid, d] : r.evidence.decisions) {
    if (!r.Rebuilt(xid)) continue;
    decisions.push_back({{"xid", xid}, {"status", XactVerdictName(d.verdict)}, {"by", SourceNames(d.sources())},
                         {"referenced", d.referenced}, {"needed", d.needed}, {"prepared", d.prepared}});
  }
  j["referenced_xids"] = r.referenced;
  j["decided_by"] = by;
  j["unknown_xids"] = r.unknown;
  j["contradictions"] = nlohmann::ordered_json::array();
  for (uint32_t xid : r.contradictions) {
    const auto& d = r.evidence.decisions.at(xid);
    j["contradictions"].push_back({{"xid", xid}, {"committed_by", SourceNames(d.committed_by)},
                                   {"aborted_by", SourceNames(d.aborted_by)}});
  }
  j["decisions"] = decisions;
  j["relations"] = nlohmann::ordered_json::array();
  for (const auto& rel : r.relations) {
    j["relations"].push_back({{"name", rel.name}, {"file", rel.path}, {"rows_if_unknown_committed", rel.rows_if_committed},
                              {"rows_if_unknown_aborted", rel.rows_if_aborted},
                              {"inserted_by_unknown", rel.inserted_by_unknown},
                              {"deleted_by_unknown", rel.deleted_by_unknown},
                              {"duplicate_keys_if_committed", DuplicatesJson(rel.duplicates_if_committed)},
                              {"duplicate_keys_if_aborted", DuplicatesJson(rel.duplicates_if_aborted)}});
  }
  j["read"] = r.evidence.read;
  j["written"] = false;
  j["warnings"] = r.evidence.warnings;
  return j;
}

}  // namespace pgrescue
