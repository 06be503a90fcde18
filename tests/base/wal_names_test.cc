#include "libcontrol/base/wal_names.h"

#include <gtest/gtest.h>

namespace pgrescue {
namespace {

constexpr uint64_t k16MB = 16ull << 20;

TEST(WalNames, SegmentNameOfRedoInFixtures) {
  // pg15 fixture: REDO 0/1703E40 on timeline 1 is in 000000010000000000000001.
  EXPECT_EQ(SegmentNameFor(1, Lsn{0x1703E40}, k16MB).ToString(k16MB), "000000010000000000000001");
}

TEST(WalNames, LogIdSplitDependsOnSegmentSize) {
  // 16 MB: 256 segments per 4 GiB, so LSN 5/3000000 is log 5 segment 3.
  EXPECT_EQ(SegmentNameFor(2, Lsn{0x503000000ull}, k16MB).ToString(k16MB), "000000020000000500000003");
  // 1 GB: 4 segments per 4 GiB.
  const uint64_t g = 1ull << 30;
  EXPECT_EQ(SegmentNameFor(1, Lsn{0x5C0000000ull}, g).ToString(g), "000000010000000500000003");
  // 1 MB: 4096 per 4 GiB, low field up to 00000FFF.
  const uint64_t m = 1ull << 20;
  EXPECT_EQ(SegmentNameFor(1, Lsn{0xFFFFFFFFull}, m).ToString(m), "000000010000000000000FFF");
}

TEST(WalNames, SegmentRoundTrip) {
  for (uint64_t size = kMinWalSegmentSize; size <= kMaxWalSegmentSize; size <<= 1) {
    for (uint64_t segno : {0ull, 1ull, 255ull, 256ull, 123456ull}) {
      const auto name = WalSegmentName{7, segno}.ToString(size);
      const auto parsed = ClassifyWalFileName(name, size);
      ASSERT_EQ(parsed.kind, WalFileKind::kSegment) << name;
      EXPECT_EQ(parsed.segment_number, segno);
      EXPECT_EQ(parsed.timeline, 7u);
      EXPECT_EQ(SegmentNumberOf(SegmentStart(segno, size), size), segno);
    }
  }
}

TEST(WalNames, ValidSegmentSizes) {
  EXPECT_TRUE(IsValidWalSegmentSize(1u << 20));
  EXPECT_TRUE(IsValidWalSegmentSize(1u << 30));
  EXPECT_FALSE(IsValidWalSegmentSize(1u << 19));
  EXPECT_FALSE(IsValidWalSegmentSize(1ull << 31));
  EXPECT_FALSE(IsValidWalSegmentSize(3000000));
  EXPECT_FALSE(IsValidWalSegmentSize(0));
}

TEST(WalNames, ClassifiesRelatedFiles) {
  auto partial = ClassifyWalFileName("000000010000000000000003.partial", k16MB);
  EXPECT_EQ(partial.kind, WalFileKind::kPartial);
  EXPECT_EQ(partial.segment_number, 3u);
  auto backup = ClassifyWalFileName("000000010000000000000002.00000028.backup", k16MB);
  EXPECT_EQ(backup.kind, WalFileKind::kBackup);
  EXPECT_EQ(backup.backup_offset, 0x28u);
  EXPECT_EQ(backup.segment_number, 2u);
  auto history = ClassifyWalFileName("00000002.history", k16MB);
  EXPECT_EQ(history.kind, WalFileKind::kHistory);
  EXPECT_EQ(history.timeline, 2u);
  EXPECT_EQ(ClassifyWalFileName("xlogtemp.12345", k16MB).kind, WalFileKind::kTemporary);
  EXPECT_EQ(ClassifyWalFileName("00000002.history.tmp", k16MB).kind, WalFileKind::kTemporary);
  // The server writes upper-case hex only; and with 16 MB segments the low
  // field stops at 000000FF.
  EXPECT_EQ(ClassifyWalFileName("00000001000000000000000a", k16MB).kind, WalFileKind::kOther);
  EXPECT_EQ(ClassifyWalFileName("000000010000000000000100", k16MB).kind, WalFileKind::kOther);
  EXPECT_EQ(ClassifyWalFileName("archive_status", k16MB).kind, WalFileKind::kOther);
  EXPECT_EQ(ClassifyWalFileName("000000010000000000000001.gz", k16MB).kind, WalFileKind::kOther);
}

}  // namespace
}  // namespace pgrescue
