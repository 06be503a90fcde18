// What one tuple header proves about its XIDs, bit by bit as
// htup_details.h defines the hints, and the rows a reader counts from the
// shapes that remain.
#include <gtest/gtest.h>

#include "libcontrol/pages/heap_format.h"
#include "libcontrol/pages/xid_evidence.h"

namespace pgrescue {
namespace {

using namespace xid_claim;  // NOLINT: the claim bits

HeapTuple T(uint32_t xmin, uint32_t xmax, uint16_t infomask) {
  HeapTuple t;
  t.xmin = xmin;
  t.xmax = xmax;
  t.infomask = infomask;
  return t;
}

TEST(XidEvidence, HintBitsClaimOutcomes) {
  XidTupleEvidence e;
  TupleShapes shapes;
  e.Add(T(100, 0, heap::kXminCommitted | heap::kXmaxInvalid), false, &shapes);
  e.Add(T(101, 0, heap::kXminInvalid | heap::kXmaxInvalid), false, &shapes);
  e.Add(T(102, 103, heap::kXminCommitted | heap::kXmaxCommitted), false, &shapes);
  e.Add(T(104, 105, heap::kXminCommitted | heap::kXminInvalid | heap::kXmaxInvalid), false, &shapes);  // frozen
  EXPECT_EQ(e.claims.at(100), kHintCommitted);
  EXPECT_EQ(e.claims.at(101), kHintAborted);
  EXPECT_EQ(e.claims.at(102), kHintCommitted);
  EXPECT_EQ(e.claims.at(103), kHintCommitted);
  EXPECT_EQ(e.claims.at(104), kHintCommitted);
  EXPECT_EQ(e.claims.at(105), kHintAborted);  // a deleter that rolled back
  // Only rows 100 and 104 are visible, whatever pg_xact says: no XID decides.
  EXPECT_EQ(VisibleTuples(shapes, [](uint32_t) { return true; }), 2u);
  EXPECT_EQ(VisibleTuples(shapes, [](uint32_t) { return false; }), 2u);
}

TEST(XidEvidence, UnhintedXidsAreNeededAndAllVisiblePagesDecide) {
  XidTupleEvidence e;
  TupleShapes shapes;
  e.Add(T(200, 0, heap::kXmaxInvalid), false, &shapes);
  e.Add(T(201, 202, 0), true, &shapes);
  EXPECT_EQ(e.claims.at(200), kNeeded);
  EXPECT_EQ(e.claims.at(201), kNeeded | kAllVisibleCommitted);
  EXPECT_EQ(e.claims.at(202), kNeeded | kAllVisibleAborted);
  EXPECT_EQ(VisibleTuples(shapes, [](uint32_t x) { return x == 200 || x == 201; }), 2u);
  EXPECT_EQ(VisibleTuples(shapes, [](uint32_t x) { return x != 200; }), 0u);  // 202 deleted 201's row
}

TEST(XidEvidence, LockersAndMultiXactsDecideNothing) {
  XidTupleEvidence e;
  TupleShapes shapes;
  e.Add(T(300, 301, heap::kXminCommitted | heap::kXmaxLockOnly | heap::kXmaxInvalid), false, &shapes);
  e.Add(T(302, 303, heap::kXminCommitted | heap::kXmaxExclusiveLock), false, &shapes);  // a pre-9.3 locker
  e.Add(T(304, 7, heap::kXminCommitted | heap::kXmaxIsMulti), false, &shapes);
  EXPECT_EQ(e.claims.at(301), 0);
  EXPECT_EQ(e.claims.at(303), 0);
  EXPECT_EQ(e.claims.count(7), 0u);
  EXPECT_EQ(VisibleTuples(shapes, [](uint32_t) { return true; }), 3u);
}

TEST(XidEvidence, BootstrapAndFrozenXidsAreCommittedWithoutClaims) {
  XidTupleEvidence e;
  TupleShapes shapes;
  e.Add(T(1, 0, 0), false, &shapes);
  e.Add(T(2, 0, 0), false, &shapes);
  EXPECT_TRUE(e.claims.empty());
  EXPECT_EQ(VisibleTuples(shapes, [](uint32_t) { return false; }), 2u);
}

}  // namespace
}  // namespace pgrescue
