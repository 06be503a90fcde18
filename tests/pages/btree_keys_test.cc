// A real btree index (fixtures/btree-keys/pg16: 2,000 entries over 7 keys,
// deduplicated into posting lists) read leaf by leaf: every (heap TID, key)
// pair equals what the server returned for the table, no more, no fewer.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "libcontrol/base/bytes.h"
#include "libcontrol/pages/btree_keys.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

TEST(BtreeKeys, LeafEntriesEqualTheServersRows) {
  const auto dir = testing::FixturesDir() / "btree-keys" / "pg16";
  const auto index = testing::Gunzip(dir / "b_g.index.gz");
  ASSERT_EQ(index.size(), 5u * 8192);  // the metapage, a root and three leaf pages
  std::set<std::string> expected;
  std::istringstream rows(*testing::ReadText(dir / "rows.txt"));
  for (std::string line; std::getline(rows, line);) expected.insert(line);
  ASSERT_EQ(expected.size(), 2000u);

  std::multiset<std::string> read;
  ForEachBtreeLeafEntry(index, 8192, [&](std::span<const uint8_t> key, HeapTid tid) {
    ASSERT_EQ(key.size(), 8u);  // an int4, padded to 8 bytes
    read.insert(fmt::format("({},{})|{}", tid.block, tid.offset, Le32(key.data())));
  });
  EXPECT_EQ(read.size(), 2000u);
  EXPECT_EQ(std::set<std::string>(read.begin(), read.end()), expected);
}

}  // namespace
}  // namespace pgrescue
