// pg_filenode.map from real servers 10-18 (fixtures/relmap, after VACUUM
// FULL pg_class): every mapping equals the server's own
// pg_relation_filenode() for the catalogs with relfilenode 0.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "libcontrol/control/control_layout.h"
#include "libcontrol/catalogs/relation_map.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

using testing::FixturesDir;
using testing::ReadBytes;

// oid -> file number from a truth file; one-column rows (no storage) skipped.
std::map<uint32_t, uint32_t> Truth(const std::string& path) {
  std::map<uint32_t, uint32_t> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    uint32_t oid = 0, filenode = 0;
    if (fields >> oid >> filenode) out[oid] = filenode;
  }
  return out;
}

class RelationMapFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(RelationMapFixture, MappingsEqualTheServers) {
  const std::string major = GetParam();
  const ControlLayout* layout = FindLayoutByMajor(major);
  ASSERT_NE(layout, nullptr);
  const auto dir = FixturesDir() / "relmap" / ("pg" + major);
  for (const std::string which : {"global", "local"}) {
    const auto bytes = ReadBytes(dir / (which + ".pg_filenode.map"));
    EXPECT_EQ(bytes.size(), RelationMapSize(layout->rules()));
    const auto parsed = ParseRelationMap(bytes, layout->rules());
    ASSERT_TRUE(parsed.ok()) << major << " " << which << ": " << parsed.error().ToString();
    std::map<uint32_t, uint32_t> got;
    for (const auto& m : *parsed) got[m.oid] = m.filenode;
    EXPECT_EQ(got, Truth((dir / (which + ".truth.txt")).string())) << major << " " << which;
  }
  // pg_class was rewritten: its file is no longer 1259.
  const auto local = ParseRelationMap(ReadBytes(dir / "local.pg_filenode.map"), layout->rules());
  ASSERT_TRUE(local.ok());
  bool found = false;
  for (const auto& m : *local) {
    if (m.oid != 1259) continue;
    found = true;
    EXPECT_NE(m.filenode, 1259u) << major;
  }
  EXPECT_TRUE(found) << major;
}

INSTANTIATE_TEST_SUITE_P(Servers, RelationMapFixture,
                         ::testing::Values("10", "11", "12", "13", "14", "15", "16", "17", "18"));

TEST(RelationMap, RefusesWhatTheServerRefuses) {
  const auto& rules15 = FindLayoutByMajor("15")->rules();
  const auto& rules16 = FindLayoutByMajor("16")->rules();
  auto bytes = ReadBytes(FixturesDir() / "relmap/pg15/global.pg_filenode.map");
  ASSERT_TRUE(ParseRelationMap(bytes, rules15).ok());
  // A 15 map read with 16's rules: the sizes differ (512 and 524).
  auto wrong = ParseRelationMap(bytes, rules16);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().message, "relation mapping file is 512 bytes; this version writes 524");
  auto bad_crc = bytes;
  bad_crc[20] ^= 1;
  const auto crc = ParseRelationMap(bad_crc, rules15);
  ASSERT_FALSE(crc.ok());
  EXPECT_TRUE(crc.error().message.starts_with("relation mapping file contains incorrect checksum"));
  auto bad_count = bytes;
  bad_count[4] = 63;  // more than 15's 62 mappings
  const auto count = ParseRelationMap(bad_count, rules15);
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.error().message, "relation mapping file contains invalid data (magic 0x592717, 63 mappings)");
}

}  // namespace
}  // namespace pgrescue
