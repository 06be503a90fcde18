// The relation files of a cluster, as PostgreSQL itself would read them:
// global/, base/<db>/ and pg_tblspc/<oid>/PG_*/<db>/, the main, _fsm, _vm and
// _init forks and their .N segments. Only the pg_tblspc/<oid> links are
// followed; anything else that is not a regular file is noted, not entered,
// so that a walk cannot leave the cluster or loop. What pg_checksums skips
// (pg_filenode.map, pg_internal.init, PG_VERSION, temporary relations,
// pgsql_tmp) is skipped by not being a relation file name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgrescue {

struct RelationFile {
  std::string rel;       // relative to the data directory, e.g. base/5/16384_fsm.2
  std::string relation;  // the relation's path without fork and segment, e.g. base/5/16384
  std::string fork;      // main, fsm, vm or init
  uint64_t segment = 0;  // .N; 0 for the first
  uint64_t size = 0;     // bytes when listed
};

enum class FileProblem : uint8_t {
  kPartialBlock,    // size not a multiple of the block size
  kShortSegment,    // shorter than a full segment, yet a later segment exists
  kMissingSegment,  // a segment before the last one found is absent
  kUnreadable,      // cannot be listed, opened or read
  kNotAFile,        // a link or a directory where a relation file belongs
  kLongSegment,     // longer than a segment: the server reads no block past it
};

// A relation file's relation: "base/5/16384_fsm.2" -> "base/5/16384".
inline std::string RelationOfFile(const std::string& rel) {
  const size_t name = rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1;
  return rel.substr(0, rel.find_first_of("_.", name));
}

// "partial-block", "short-segment", "missing-segment", "unreadable", "not-a-file",
// "long-segment".
const char* FileProblemName(FileProblem problem);

struct FileFinding {
  std::string file;  // relative to the data directory
  FileProblem problem;
  std::string message;
};

struct RelationFiles {
  std::vector<RelationFile> files;     // in walk order: each directory's names sorted
  std::vector<FileFinding> findings;   // links, odd entries, short and missing segments
};

// Lists every relation file under `data_dir`. A full segment holds
// `blocks_per_segment` (RELSEG_SIZE) blocks, for the short-segment rule.
RelationFiles FindRelationFiles(const std::string& data_dir, uint32_t block_size, uint64_t blocks_per_segment);

}  // namespace pgrescue
