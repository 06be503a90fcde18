// Relation files as the server reads them: names parsed into relation, fork
// and segment, and the segment gaps that hide blocks from the server.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "libcontrol/pages/relation_files.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

void Sized(const fs::path& p, uint64_t size) {
  fs::create_directories(p.parent_path());
  std::ofstream(p).close();
  fs::resize_file(p, size);
}

TEST(RelationFiles, NamesSplitIntoRelationForkAndSegment) {
  testing::ScratchDir d("relfiles-names");
  fs::create_directories(d.path() / "pg_tblspc");
  Sized(d.path() / "base/5/16384", 8192);
  Sized(d.path() / "base/5/16384_vm", 8192);
  Sized(d.path() / "base/5/16384_init", 0);
  Sized(d.path() / "global/1262_fsm", 3 * 8192);
  Sized(d.path() / "base/5/pg_filenode.map", 512);
  Sized(d.path() / "base/5/t3_16400", 8192);
  Sized(d.path() / "base/5/016384", 8192);  // a leading zero: not a name PostgreSQL writes
  const RelationFiles r = FindRelationFiles(d.path().string(), 8192, 4);
  ASSERT_EQ(r.files.size(), 4u);
  EXPECT_EQ(r.files[0].rel, "global/1262_fsm");
  EXPECT_EQ(r.files[0].relation, "global/1262");
  EXPECT_EQ(r.files[0].fork, "fsm");
  EXPECT_EQ(r.files[0].size, 3u * 8192);
  EXPECT_EQ(r.files[1].rel, "base/5/16384");
  EXPECT_EQ(r.files[1].fork, "main");
  EXPECT_EQ(r.files[2].fork, "init");
  EXPECT_EQ(r.files[3].fork, "vm");
  EXPECT_TRUE(r.findings.empty());
}

TEST(RelationFiles, ShortAndMissingSegmentsBeforeTheLastAreFound) {
  testing::ScratchDir d("relfiles-segments");
  fs::create_directories(d.path() / "global");
  fs::create_directories(d.path() / "pg_tblspc");
  const fs::path db = d.path() / "base/5";
  // Four blocks per segment: 16384 has a short .1 before .2; 16390 lacks .1;
  // 16391's short last segment is normal.
  Sized(db / "16384", 4 * 8192);
  Sized(db / "16384.1", 2 * 8192);
  Sized(db / "16384.2", 8192);
  Sized(db / "16390", 4 * 8192);
  Sized(db / "16390.2", 8192);
  Sized(db / "16391", 4 * 8192);
  Sized(db / "16391.1", 8192);
  const RelationFiles r = FindRelationFiles(d.path().string(), 8192, 4);
  EXPECT_EQ(r.files.size(), 7u);
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].file, "base/5/16384.1");
  EXPECT_EQ(r.findings[0].problem, FileProblem::kShortSegment);
  EXPECT_EQ(r.findings[0].message,
            "base/5/16384.1: 16384 bytes, shorter than a full segment (32768 bytes), yet segment 2 follows: the "
            "server sees no block after this one");
  EXPECT_EQ(r.findings[1].file, "base/5/16390.1");
  EXPECT_EQ(r.findings[1].problem, FileProblem::kMissingSegment);
  EXPECT_EQ(r.findings[1].message,
            "base/5/16390.1: missing, yet segment 2 exists: blocks 4 to 7 are gone and the server sees none after "
            "them");
  EXPECT_STREQ(FileProblemName(r.findings[1].problem), "missing-segment");
}

// Debian's 15, with a 100-row table's file grown to 1 GB + 8192 bytes:
// "select count(*) from t" ends in FATAL:  segment too big.
TEST(RelationFiles, ASegmentLongerThanASegmentIsFoundAndReadOnlyToItsEnd) {
  testing::ScratchDir d("relfiles-long");
  fs::create_directories(d.path() / "global");
  fs::create_directories(d.path() / "pg_tblspc");
  Sized(d.path() / "base/5/16384", 8ull << 30);  // sparse: nothing is written
  const RelationFiles r = FindRelationFiles(d.path().string(), 8192, 131072);
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_EQ(r.files[0].size, 1ull << 30);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].problem, FileProblem::kLongSegment);
  EXPECT_STREQ(FileProblemName(r.findings[0].problem), "long-segment");
  EXPECT_EQ(r.findings[0].message,
            "base/5/16384: 8589934592 bytes, longer than a segment (1073741824 bytes): the server fails any read of "
            "this relation with FATAL \"segment too big\"; only the first 1073741824 bytes are checked");
}

}  // namespace
}  // namespace pgrescue
