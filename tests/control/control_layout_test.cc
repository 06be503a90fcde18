// The computed layouts against the offsets PostgreSQL's own headers give
// (compiled offsetof tables in the project's format fact sheet).
#include <gtest/gtest.h>

#include "libcontrol/control/control_layout.h"

namespace pgrescue {
namespace {

struct Expect {
  const char* major;
  Field field;
  uint16_t offset;
};

TEST(ControlLayout, OffsetsMatchTheHeaders) {
  const Expect cases[] = {
      {"9.4", Field::kUnloggedLsn, 120},   {"9.4", Field::kFloatFormat, 192},
      {"9.4", Field::kDataChecksumVersion, 236}, {"9.5", Field::kTrackCommitTimestamp, 196},
      {"9.5", Field::kOldestActiveXid, 120}, {"10", Field::kMockAuthNonce, 256},
      {"10", Field::kFloat4ByVal, 248},   {"11", Field::kRedo, 40},
      {"11", Field::kNextXid, 64},        {"11", Field::kNextXidEpoch, 60},
      {"11", Field::kMockAuthNonce, 248}, {"12", Field::kNextXid, 64},
      {"12", Field::kNextXidEpoch, 68},   {"12", Field::kNextOid, 72},
      {"12", Field::kMaxWalSenders, 188}, {"15", Field::kCheckpointTime, 104},
      {"15", Field::kFloat8ByVal, 248},   {"17", Field::kCheckpointWalLevel, 60},
      {"18", Field::kDefaultCharSignedness, 256}, {"18", Field::kMockAuthNonce, 257},
      {"19", Field::kNextXid, 72},        {"19", Field::kNextMultiOffset, 88},
      {"19", Field::kSlruPagesPerSegment, 232}, {"19", Field::kMockAuthNonce, 269},
  };
  for (const auto& c : cases) {
    const ControlLayout* l = FindLayoutByMajor(c.major);
    ASSERT_NE(l, nullptr) << c.major;
    const Placement* p = l->Find(c.field);
    ASSERT_NE(p, nullptr) << c.major << " " << FieldName(c.field);
    EXPECT_EQ(p->offset, c.offset) << c.major << " " << FieldName(c.field);
  }
}

TEST(ControlLayout, CrcOffsetsAndSizes) {
  const struct { const char* major; uint16_t crc; uint16_t size; } cases[] = {
      {"9.4", 240, 248}, {"9.5", 256, 264}, {"9.6", 256, 264}, {"10", 288, 296},
      {"11", 280, 288},  {"12", 288, 296},  {"13", 288, 296},  {"16", 288, 296},
      {"17", 288, 296},  {"18", 292, 296},  {"19", 304, 312}};
  for (const auto& c : cases) {
    const ControlLayout* l = FindLayoutByMajor(c.major);
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(l->crc_offset(), c.crc) << c.major;
    EXPECT_EQ(l->struct_size(), c.size) << c.major;
  }
}

TEST(ControlLayout, CatalogVersionRangesTileWithoutGaps) {
  const auto layouts = AllControlLayouts();
  for (size_t i = 1; i < layouts.size(); ++i) {
    EXPECT_EQ(layouts[i].catversion_first(), layouts[i - 1].catversion_last() + 1) << layouts[i].major();
  }
}

}  // namespace
}  // namespace pgrescue
