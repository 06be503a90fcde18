// SLRU geometry and runs: segment sizes per block size and version, file
// names, and the run of live segments through wraparound.
#include <gtest/gtest.h>

#include <vector>

#include "libcontrol/control/control_layout.h"
#include "libcontrol/slru/slru.h"
#include "libcontrol/slru/slru_run.h"

namespace pgrescue {
namespace {

TEST(SlruLayoutTest, GeometryOf8kAnd16kBlocks) {
  const auto& v15 = *FindLayoutByMajor("15");
  EXPECT_EQ(SlruLayout(SlruKind::kXact, v15, 8192).entries_per_segment(), 1048576u);
  EXPECT_EQ(SlruLayout(SlruKind::kMultiXactOffsets, v15, 8192).entries_per_segment(), 65536u);
  EXPECT_EQ(SlruLayout(SlruKind::kMultiXactMembers, v15, 8192).entries_per_segment(), 52352u);
  EXPECT_EQ(SlruLayout(SlruKind::kCommitTs, v15, 8192).entries_per_segment(), 26208u);
  EXPECT_EQ(SlruLayout(SlruKind::kXact, v15, 16384).entries_per_segment(), 2097152u);
  EXPECT_EQ(SlruLayout(SlruKind::kMultiXactOffsets, v15, 16384).entries_per_segment(), 131072u);
  EXPECT_EQ(SlruLayout(SlruKind::kMultiXactMembers, v15, 16384).entries_per_segment(), 104832u);
  EXPECT_EQ(SlruLayout(SlruKind::kCommitTs, v15, 16384).entries_per_segment(), 52416u);
  // Where names wrap: 2^32 IDs, the last page partial.
  EXPECT_EQ(SlruLayout(SlruKind::kXact, v15, 8192).segment_count(), 0x1000u);
  EXPECT_EQ(SlruLayout(SlruKind::kMultiXactOffsets, v15, 8192).segment_count(), 0x10000u);
  EXPECT_EQ(SlruLayout(SlruKind::kMultiXactMembers, v15, 8192).segment_count(), 0x14079u);
  EXPECT_EQ(SlruLayout(SlruKind::kCommitTs, v15, 8192).segment_count(), 0x28029u);
}

TEST(SlruLayoutTest, NineteenHasWideOffsetsAndLongMemberNames) {
  const auto& v19 = *FindLayoutByMajor("19");
  const SlruLayout offsets(SlruKind::kMultiXactOffsets, v19, 8192);
  const SlruLayout members(SlruKind::kMultiXactMembers, v19, 8192);
  EXPECT_EQ(offsets.entries_per_segment(), 32768u);
  EXPECT_EQ(offsets.FileName(1), "0001");
  EXPECT_EQ(members.entries_per_segment(), 52352u);
  EXPECT_FALSE(members.segment_count().has_value());
  EXPECT_EQ(members.FileName(0), "000000000000000");
  EXPECT_EQ(members.ParseFileName("000000000000000"), 0u);
  EXPECT_FALSE(members.ParseFileName("0000").has_value());
}

TEST(SlruLayoutTest, FileNames) {
  const SlruLayout members(SlruKind::kMultiXactMembers, *FindLayoutByMajor("15"), 8192);
  EXPECT_EQ(members.FileName(0x10000), "10000");
  EXPECT_EQ(members.ParseFileName("14078"), 0x14078u);
  EXPECT_FALSE(members.ParseFileName("14079").has_value());  // past the last segment
  EXPECT_FALSE(members.ParseFileName("00abc").has_value());
  EXPECT_FALSE(members.ParseFileName("00ABC").has_value());  // no superfluous leading zero
  EXPECT_FALSE(members.ParseFileName("ABC").has_value());
}

TEST(SlruRunTest, WrapsAroundTheLargestGap) {
  auto run = FindSlruRun({0xFFE, 0xFFF, 0, 1}, 0x1000);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->first, 0xFFEu);
  EXPECT_EQ(run->last, 1u);
  EXPECT_TRUE(run->wraps);
  EXPECT_EQ(run->length, 4u);
  EXPECT_TRUE(run->holes.empty());
  auto holes = FindSlruRun({5, 7, 8, 10}, 0x1000);
  ASSERT_TRUE(holes);
  EXPECT_EQ(holes->holes, (std::vector<SegmentSpan>{{6, 1}, {9, 1}}));
  // A gap across the wrap point is two spans, the one before 0 first.
  auto across = FindSlruRun({0x003, 0xFF0, 0x002}, 0x1000);
  ASSERT_TRUE(across);
  EXPECT_EQ(across->first, 0xFF0u);
  EXPECT_EQ(across->last, 0x003u);
  EXPECT_EQ(across->length, 20u);
  EXPECT_EQ(across->holes, (std::vector<SegmentSpan>{{0xFF1, 15}, {0, 2}}));
  EXPECT_FALSE(FindSlruRun({}, 16));
}

// 19's members never wrap: the run is smallest to largest, whatever the gaps
// (it once started after the first gap and listed holes without end).
TEST(SlruRunTest, NumberingThatNeverWraps) {
  auto run = FindSlruRun({3, 0, 1}, std::nullopt);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->first, 0u);
  EXPECT_EQ(run->last, 3u);
  EXPECT_FALSE(run->wraps);
  EXPECT_EQ(run->length, 4u);
  EXPECT_EQ(run->holes, (std::vector<SegmentSpan>{{2, 1}}));
  // Two files 2^59 apart: one span, found at once.
  auto far = FindSlruRun({0, uint64_t{1} << 59}, std::nullopt);
  ASSERT_TRUE(far);
  EXPECT_EQ(far->length, (uint64_t{1} << 59) + 1);
  EXPECT_EQ(far->holes, (std::vector<SegmentSpan>{{1, (uint64_t{1} << 59) - 1}}));
  EXPECT_EQ(SegmentCount(far->holes), (uint64_t{1} << 59) - 1);
}

}  // namespace
}  // namespace pgrescue
