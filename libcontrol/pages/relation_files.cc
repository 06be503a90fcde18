#include "libcontrol/pages/relation_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>
#include <tuple>

#include <fmt/format.h>

namespace pgrescue {
namespace {

// Leading decimal digits as PostgreSQL writes numbers in file names (no
// leading zero, at most 10 digits), taken off `s`.
std::optional<uint64_t> TakeNumber(std::string_view* s) {
  size_t n = 0;
  uint64_t v = 0;
  for (; n < s->size() && n <= 10 && (*s)[n] >= '0' && (*s)[n] <= '9'; ++n) {
    v = v * 10 + static_cast<uint64_t>((*s)[n] - '0');
  }
  if (n == 0 || n > 10 || (*s)[0] == '0') return std::nullopt;
  s->remove_prefix(n);
  return v;
}

bool IsOid(std::string_view name) { return TakeNumber(&name) && name.empty(); }

struct RelationName {
  std::string_view relfilenode;
  std::string fork;
  uint64_t segment;
};

// "16397", "16397_fsm.2", or nullopt for anything that is not a relation
// file name.
std::optional<RelationName> ParseRelationName(std::string_view name) {
  std::string_view rest = name;
  if (!TakeNumber(&rest)) return std::nullopt;
  RelationName out{name.substr(0, name.size() - rest.size()), "main", 0};
  for (std::string_view fork : {"_fsm", "_vm", "_init"}) {
    if (rest.starts_with(fork)) {
      rest.remove_prefix(fork.size());
      out.fork = std::string(fork.substr(1));
      break;
    }
  }
  if (rest.empty()) return out;
  if (!rest.starts_with('.')) return std::nullopt;
  rest.remove_prefix(1);
  const auto segment = TakeNumber(&rest);  // from .1 on: the first segment has no suffix
  if (!segment || !rest.empty()) return std::nullopt;
  out.segment = *segment;
  return out;
}

struct Entry {
  std::string name;
  mode_t mode;  // from lstat: links are seen as links
  uint64_t size;
};

struct Walk {
  std::string root;
  RelationFiles* out;

  void Note(const std::string& file, FileProblem problem, std::string message) {
    out->findings.push_back({file, problem, std::move(message)});
  }

  std::optional<std::vector<Entry>> List(const std::string& rel) {
    DIR* d = opendir((root + "/" + rel).c_str());
    if (d == nullptr) {
      Note(rel, FileProblem::kUnreadable, fmt::format("{}: cannot list: {}", rel, std::strerror(errno)));
      return std::nullopt;
    }
    std::vector<Entry> entries;
    while (const dirent* ent = readdir(d)) {
      struct stat st {};
      if (ent->d_name[0] == '.' || fstatat(dirfd(d), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      entries.push_back({ent->d_name, st.st_mode, static_cast<uint64_t>(st.st_size)});
    }
    closedir(d);
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return entries;
  }

  void RelationDir(const std::string& rel) {
    for (const Entry& e : List(rel).value_or(std::vector<Entry>{})) {
      const auto name = ParseRelationName(e.name);
      if (!name) continue;
      const std::string file = rel + "/" + e.name;
      // The server would read through a link; its pages go unread here.
      if (S_ISREG(e.mode)) {
        out->files.push_back({file, rel + "/" + std::string(name->relfilenode), name->fork, name->segment, e.size});
      } else {
        Note(file, FileProblem::kNotAFile,
             fmt::format("{}: {}, not read", file, S_ISLNK(e.mode) ? "symbolic link" : "not a file"));
      }
    }
  }

  void DatabaseDirs(const std::string& rel) {
    for (const Entry& e : List(rel).value_or(std::vector<Entry>{})) {
      if (!IsOid(e.name)) continue;
      if (S_ISDIR(e.mode)) {
        RelationDir(rel + "/" + e.name);
      } else {
        Note(rel + "/" + e.name, FileProblem::kNotAFile, fmt::format("{}/{}: not a directory, not read", rel, e.name));
      }
    }
  }

  // An old cluster's PG_<major>_<catversion> left by pg_upgrade is read too.
  void Tablespaces() {
    for (const Entry& e : List("pg_tblspc").value_or(std::vector<Entry>{})) {
      if (!IsOid(e.name)) continue;
      const std::string rel = "pg_tblspc/" + e.name;
      struct stat st {};
      if (stat((root + "/" + rel).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        Note(rel, FileProblem::kUnreadable, fmt::format("{}: does not lead to a directory", rel));
        continue;
      }
      for (const Entry& v : List(rel).value_or(std::vector<Entry>{})) {
        if (S_ISDIR(v.mode) && v.name.starts_with("PG_")) DatabaseDirs(rel + "/" + v.name);
      }
    }
  }
};

// The server reads a fork's segments in order and stops at the first one
// shorter than full: a short segment followed by another, or a gap, hides
// the blocks after it.
void SegmentFindings(uint32_t block_size, uint64_t blocks_per_segment, RelationFiles* r) {
  const uint64_t segment_bytes = block_size * blocks_per_segment;
  // A segment file longer than a segment stops the server: counting the
  // relation's blocks ends in FATAL "segment too big" (seen on 15). Only the
  // segment's own blocks are read here: an 8 GB sparse file is not read whole.
  for (RelationFile& f : r->files) {
    if (f.size <= segment_bytes) continue;
    r->findings.push_back({f.rel, FileProblem::kLongSegment,
                           fmt::format("{}: {} bytes, longer than a segment ({} bytes): the server fails any read of "
                                       "this relation with FATAL \"segment too big\"; only the first {} bytes are "
                                       "checked",
                                       f.rel, f.size, segment_bytes, segment_bytes)});
    f.size = segment_bytes;
  }
  std::map<std::tuple<std::string, std::string>, std::map<uint64_t, const RelationFile*>> forks;
  for (const RelationFile& f : r->files) forks[{f.relation, f.fork}][f.segment] = &f;
  for (const auto& [key, segments] : forks) {
    const auto& [relation, fork] = key;
    const std::string suffix = fork == "main" ? "" : "_" + fork;
    const uint64_t last = segments.rbegin()->first;
    for (uint64_t s = 0; s < last; ++s) {
      const auto it = segments.find(s);
      const std::string name = relation + suffix + (s == 0 ? "" : fmt::format(".{}", s));
      if (it == segments.end()) {
        r->findings.push_back({name, FileProblem::kMissingSegment,
                               fmt::format("{}: missing, yet segment {} exists: blocks {} to {} are gone and the "
                                           "server sees none after them",
                                           name, last, s * blocks_per_segment, (s + 1) * blocks_per_segment - 1)});
      } else if (it->second->size < segment_bytes) {
        r->findings.push_back({name, FileProblem::kShortSegment,
                               fmt::format("{}: {} bytes, shorter than a full segment ({} bytes), yet segment {} "
                                           "follows: the server sees no block after this one",
                                           name, it->second->size, segment_bytes, last)});
      }
    }
  }
}

}  // namespace

const char* FileProblemName(FileProblem problem) {
  switch (problem) {
    case FileProblem::kPartialBlock: return "partial-block";
    case FileProblem::kShortSegment: return "short-segment";
    case FileProblem::kMissingSegment: return "missing-segment";
    case FileProblem::kUnreadable: return "unreadable";
    case FileProblem::kNotAFile: return "not-a-file";
    case FileProblem::kLongSegment: return "long-segment";
  }
  return "";
}

RelationFiles FindRelationFiles(const std::string& data_dir, uint32_t block_size, uint64_t blocks_per_segment) {
  RelationFiles r;
  Walk walk{data_dir, &r};
  walk.RelationDir("global");
  walk.DatabaseDirs("base");
  walk.Tablespaces();
  SegmentFindings(block_size, blocks_per_segment, &r);
  return r;
}

}  // namespace pgrescue
