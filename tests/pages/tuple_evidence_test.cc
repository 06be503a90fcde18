// What heap tuples prove: the newest XID and MultiXactId in them, in the
// circular order, and their xmin hint states; index pages and the free space
// map are not read as heap pages.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "libcontrol/base/bytes.h"
#include "libcontrol/pages/heap_format.h"
#include "libcontrol/pages/page_scan.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

struct Tuple {
  uint32_t xmin, xmax;
  uint16_t infomask;
};

using heap::kXmaxInvalid;
using heap::kXmaxIsMulti;
using heap::kXminCommitted;
using heap::kXminInvalid;

// A page of 32-byte tuples (header 24 bytes with t_hoff 24, 8 data bytes);
// `special` bytes of special space at the end, as an index page has.
Bytes Page(const std::vector<Tuple>& tuples, uint16_t special = 0) {
  Bytes p(8192, 0);
  uint16_t upper = static_cast<uint16_t>(8192 - special);
  for (size_t i = 0; i < tuples.size(); ++i) {
    upper = static_cast<uint16_t>(upper - 32);
    StoreLittleEndian(p.data() + upper, 4, tuples[i].xmin);
    StoreLittleEndian(p.data() + upper + 4, 4, tuples[i].xmax);
    StoreLittleEndian(p.data() + upper + 20, 2, tuples[i].infomask);
    p[upper + 22] = 24;
    StoreLittleEndian(p.data() + 24 + 4 * i, 4, upper | 1u << 15 | 32u << 17);
  }
  const uint16_t lower = static_cast<uint16_t>(24 + 4 * tuples.size());
  const uint16_t fields[] = {lower, upper, static_cast<uint16_t>(8192 - special), 8192 | 4};
  for (int i = 0; i < 4; ++i) StoreLittleEndian(p.data() + 12 + 2 * i, 2, fields[i]);
  return p;
}

void Put(const fs::path& p, const std::vector<Bytes>& pages) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  for (const auto& page : pages) out.write(reinterpret_cast<const char*>(page.data()), 8192);
}

TEST(TupleEvidence, NewestIdsAndHintStates) {
  testing::ScratchDir d("tuples");
  fs::create_directories(d.path() / "global");
  fs::create_directories(d.path() / "pg_tblspc");
  Put(d.path() / "base/5/16384",
      {Page({{500, 0, kXminCommitted | kXmaxInvalid},  // committed insert
             {2, 0, kXminCommitted | kXminInvalid},     // frozen
             {4000000000u, 0, 0}}),                     // not hinted; from before a wraparound
       Page({{100, 0, kXminInvalid},                    // aborted insert
             {600, 7, kXmaxIsMulti}})});                // a MultiXact locker
  // An index page and a free space map: their bytes are not tuples.
  Put(d.path() / "base/5/16390", {Page({{90000, 0, 0}}, 16)});
  Put(d.path() / "base/5/16384_fsm", {Page({{90001, 0, 0}})});
  PageScanOptions o;
  o.data_dir = d.path().string();
  const auto r = ScanPageLsns(o);
  ASSERT_TRUE(r) << r.error().ToString();
  const TupleEvidence& t = r->tuples;
  EXPECT_EQ(t.tuples, 5u);
  EXPECT_EQ(t.xmin_committed, 1u);
  EXPECT_EQ(t.xmin_frozen, 1u);
  EXPECT_EQ(t.xmin_aborted, 1u);
  EXPECT_EQ(t.xmin_unhinted, 2u);
  // 4000000000 lies less than 2^31 before 600 in the circular order (the
  // counter wrapped since), so 600 is the newest.
  ASSERT_TRUE(t.newest_xid);
  EXPECT_EQ(*t.newest_xid, 600u);
  EXPECT_EQ(t.newest_xid_where, "base/5/16384 block 1");
  ASSERT_TRUE(t.newest_multixact);
  EXPECT_EQ(*t.newest_multixact, 7u);
  // Per 2^20 XIDs, the lowest and highest XID whose status must be looked
  // up: only the unhinted xmins 600 and 4000000000 (not the hinted 500 and
  // 100, the frozen 2, the MultiXactId 7 or the index's 90000).
  using Spans = std::map<uint32_t, std::pair<uint32_t, uint32_t>>;
  EXPECT_EQ(t.xid_spans, (Spans{{0, {600, 600}}, {3814, {4000000000u, 4000000000u}}}));
}

}  // namespace
}  // namespace pgrescue
