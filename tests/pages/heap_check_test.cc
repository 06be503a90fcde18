// verify_heapam's offline checks and btree page checks on pages laid out as
// the server lays them out (bufpage.h, itemid.h, htup_details.h, nbtree.h).
// The messages are verify_heapam's; tests/server/check_test.py compares them
// with amcheck's own on Debian's 15.
#include <gtest/gtest.h>

#include <vector>

#include "libcontrol/base/bytes.h"
#include "libcontrol/pages/btree_check.h"
#include "libcontrol/pages/heap_check.h"

namespace pgrescue {
namespace {

using Bytes = std::vector<uint8_t>;

// Three tuples of two int4 columns: 24-byte header (t_hoff 24), 8 data bytes.
Bytes HeapPage() {
  Bytes p(8192, 0);
  uint16_t upper = 8192;
  for (uint32_t i = 0; i < 3; ++i) {
    upper = static_cast<uint16_t>(upper - 32);
    StoreLittleEndian(p.data() + upper, 4, 1000 + i);             // xmin
    StoreLittleEndian(p.data() + upper + 18, 2, 2);               // natts
    StoreLittleEndian(p.data() + upper + 20, 2, heap::kXmaxInvalid | heap::kXminCommitted);
    p[upper + 22] = 24;
    StoreLittleEndian(p.data() + 24 + 4 * i, 4, upper | 1u << 15 | 32u << 17);
  }
  const uint16_t fields[] = {24 + 4 * 3, upper, 8192, 8192 | 4};
  for (int i = 0; i < 4; ++i) StoreLittleEndian(p.data() + 12 + 2 * i, 2, fields[i]);
  return p;
}

std::vector<TupleProblem> Check(const Bytes& page, const HeapLimits& limits = {}, int* sound = nullptr) {
  std::vector<TupleProblem> problems;
  int n = 0;
  CheckHeapPage(page, limits, &problems, [&](const HeapTuple&) { ++n; });
  if (sound) *sound = n;
  return problems;
}

void SetLinePointer(Bytes* p, int offset, uint32_t off, uint32_t flags, uint32_t len) {
  StoreLittleEndian(p->data() + 24 + 4 * (offset - 1), 4, off | flags << 15 | len << 17);
}

TEST(HeapCheck, SoundPageHasNoProblems) {
  int sound = 0;
  EXPECT_TRUE(Check(HeapPage(), {1100, 0, 5}, &sound).empty());
  EXPECT_EQ(sound, 3);
}

TEST(HeapCheck, LinePointersInVerifyHeapamsWords) {
  Bytes p = HeapPage();
  SetLinePointer(&p, 1, 8160 + 1, 1, 32);
  SetLinePointer(&p, 2, 8128, 1, 16);
  SetLinePointer(&p, 3, 8168, 1, 32);
  const auto problems = Check(p);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].offset, 1);
  EXPECT_EQ(problems[0].message, "line pointer to page offset 8161 is not maximally aligned");
  EXPECT_EQ(problems[1].message, "line pointer length 16 is less than the minimum tuple header size 24");
  EXPECT_EQ(problems[2].message, "line pointer to page offset 8168 with length 32 ends beyond maximum page offset 8192");
}

TEST(HeapCheck, RedirectsMustLeadToATuple) {
  Bytes p = HeapPage();
  SetLinePointer(&p, 1, 9, 2, 0);  // beyond the 3 line pointers
  SetLinePointer(&p, 2, 3, 2, 0);
  SetLinePointer(&p, 3, 0, 0, 0);  // unused
  const auto problems = Check(p);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].message, "line pointer redirection to item at offset 9 exceeds maximum offset 3");
  EXPECT_EQ(problems[1].message, "redirected line pointer points to an unused item at offset 3");
}

TEST(HeapCheck, TupleHeaders) {
  Bytes p = HeapPage();
  p[8160 + 22] = 32;                                                      // t_hoff past where the data begins
  StoreLittleEndian(p.data() + 8128 + 20, 2, heap::kXmaxIsMulti | 0x0400);  // multi marked committed
  StoreLittleEndian(p.data() + 8096 + 18, 2, 2 | heap::kHeapOnly);       // heap-only, not updated
  int sound = 0;
  const auto problems = Check(p, {}, &sound);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].message, "tuple data should begin at byte 24, but actually begins at byte 32 (2 attributes, no nulls)");
  EXPECT_EQ(problems[1].message, "multixact should not be marked committed");
  EXPECT_EQ(problems[2].message, "tuple is heap only, but not the result of an update");
  EXPECT_EQ(sound, 2);  // a wrong t_hoff leaves the columns unreadable
}

TEST(HeapCheck, NullBitmapSetsWhereTheDataBegins) {
  Bytes p = HeapPage();
  // 9 columns with nulls: a 2-byte bitmap, 23 + 2 = 25, aligned to 32.
  StoreLittleEndian(p.data() + 8160 + 18, 2, 9);
  StoreLittleEndian(p.data() + 8160 + 20, 2, heap::kHasNull | heap::kXmaxInvalid);
  const auto problems = Check(p);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].message, "tuple data should begin at byte 32, but actually begins at byte 24 (9 attributes, has nulls)");
  p[8160 + 22] = 32;
  EXPECT_TRUE(Check(p).empty());
}

TEST(HeapCheck, XidsFromTheFuture) {
  Bytes p = HeapPage();
  StoreLittleEndian(p.data() + 8128 + 4, 4, 7);  // xmax 7 as a MultiXactId
  StoreLittleEndian(p.data() + 8128 + 20, 2, heap::kXmaxIsMulti);
  const auto problems = Check(p, {1001, 0, 7});
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].offset, 2);
  EXPECT_EQ(problems[0].message, "xmin 1001 equals or exceeds next valid transaction ID 0:1001");
  EXPECT_EQ(problems[1].message, "multitransaction ID 7 equals or exceeds next valid multitransaction ID 7");
  EXPECT_EQ(problems[2].offset, 3);
  // Frozen tuples keep their old xmin: not in the future, whatever it is.
  StoreLittleEndian(p.data() + 8128 + 20, 2, heap::kXminCommitted | heap::kXminInvalid | heap::kXmaxInvalid);
  StoreLittleEndian(p.data() + 8096 + 20, 2, heap::kXminCommitted | heap::kXminInvalid | heap::kXmaxInvalid);
  EXPECT_EQ(Check(p, {1001, 0, 7}).size(), 0u);
  // Without limits (a crashed cluster) nothing is in the future.
  EXPECT_TRUE(Check(HeapPage()).empty());
}

TEST(HeapCheck, RowsOfADamagedPageByLinePointers) {
  Bytes p = HeapPage();
  SetLinePointer(&p, 2, 0, 3, 0);  // dead
  EXPECT_EQ(RowsByLinePointers(p), 2u);
  StoreLittleEndian(p.data() + 12, 2, 27);  // pd_lower between line pointers
  EXPECT_EQ(RowsByLinePointers(p), std::nullopt);
}

Bytes BtreePage(uint16_t flags, uint16_t special = 8176) {
  Bytes p(8192, 0);
  const uint16_t fields[] = {24, 8176, special, 8192 | 4};
  for (int i = 0; i < 4; ++i) StoreLittleEndian(p.data() + 12 + 2 * i, 2, fields[i]);
  StoreLittleEndian(p.data() + special + 12, 2, flags);
  return p;
}

TEST(BtreeCheck, SpecialSpaceFlagsAndMetapage) {
  EXPECT_EQ(CheckBtreePage(BtreePage(1), 1), "");
  EXPECT_EQ(CheckBtreePage(BtreePage(1, 8168), 5),
            "index contains corrupted page at block 5: special space is 24 bytes, a btree page's is 16");
  EXPECT_EQ(CheckBtreePage(BtreePage(0x0401), 1), "btree page flags 0x0401 include unknown bits");
  EXPECT_EQ(CheckBtreePage(BtreePage(8), 3), "invalid meta page found at block 3 in index");
  Bytes meta = BtreePage(8);
  StoreLittleEndian(meta.data() + 24, 4, 0x053162);
  StoreLittleEndian(meta.data() + 28, 4, 4);
  EXPECT_EQ(CheckBtreePage(meta, 0), "");
  StoreLittleEndian(meta.data() + 28, 4, 9);
  EXPECT_EQ(CheckBtreePage(meta, 0), "version mismatch in index: file version 9, PostgreSQL writes 2 to 4");
  EXPECT_EQ(CheckBtreePage(BtreePage(1), 0),
            "index is not a btree: block 0 has flags 0x0001 and magic 0x000000, a metapage has 0x0008 and 0x053162");
}

TEST(RowsByLinePointers, PastAGarbageHeaderTheLinePointersStillCount) {
  Bytes page = HeapPage();
  EXPECT_EQ(RowsByLinePointers(page), 3u);
  for (size_t i = 0; i < 24; ++i) page[i] = static_cast<uint8_t>("GARBAGEGARBAGEGARBAGEGA"[i % 23]);
  EXPECT_FALSE(RowsByLinePointers(page));
  EXPECT_EQ(RowsByLinePointersPastHeader(page), 3u);
  // A pointer past the page's end ends the count.
  StoreLittleEndian(page.data() + 24 + 4, 4, 8190u | 1u << 15 | 32u << 17);
  EXPECT_EQ(RowsByLinePointersPastHeader(page), 1u);
  Bytes zeros(8192, 0);
  for (size_t i = 0; i < 24; ++i) zeros[i] = 0xAB;
  EXPECT_FALSE(RowsByLinePointersPastHeader(zeros));
}

}  // namespace
}  // namespace pgrescue
