#include "libcontrol/base/crc.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "libcontrol/base/wal_names.h"
#include "libcontrol/control/control_file.h"
#include "libcontrol/wal/wal_record.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Crc, Crc32cCheckValue) {
  // The standard check value of CRC-32C (iSCSI) for "123456789".
  EXPECT_EQ(Crc32c(Bytes("123456789")), 0xE3069283u);
}

TEST(Crc, Crc32cExtendEqualsOnePass) {
  const std::string_view all = "the quick brown fox jumps over the lazy dog";
  const uint32_t first = Crc32c(Bytes(all.substr(0, 10)));
  EXPECT_EQ(Crc32cExtend(first, Bytes(all.substr(10))), Crc32c(Bytes(all)));
}

TEST(Crc, Crc32cOfNothing) { EXPECT_EQ(Crc32c({}), 0u); }

// Every length across the block thresholds (3 x 256, 3 x 8192), from every
// alignment, continuing from a non-trivial CRC: the fast implementations
// agree with Boost.CRC.
TEST(Crc, FastImplementationsEqualBoost) {
  std::vector<uint8_t> data(3 * 8192 * 2 + 64);
  uint32_t state = 12345;
  for (auto& b : data) b = static_cast<uint8_t>((state = state * 1103515245u + 12345u) >> 16);
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 800; ++n) lengths.push_back(n);
  for (size_t n : {3 * 8192 - 1, 3 * 8192, 3 * 8192 + 7, 2 * 3 * 8192 + 5, 8192 + 3}) lengths.push_back(n);
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t n : lengths) {
      const std::span<const uint8_t> part(data.data() + offset, n);
      const uint32_t expected = Crc32cBoostExtend(0xDEADBEEF, part);
      ASSERT_EQ(Crc32cPortableExtend(0xDEADBEEF, part), expected) << "portable, length " << n << " offset " << offset;
      if (Crc32cHardwareAvailable()) {
        ASSERT_EQ(Crc32cHardwareExtend(0xDEADBEEF, part), expected) << "SSE 4.2, length " << n << " offset " << offset;
      }
      ASSERT_EQ(Crc32cExtend(0xDEADBEEF, part), expected);
    }
  }
}

TEST(Crc, ThisMachineHasTheHardwarePath) {
  // The x86-64 machines CI runs on all have SSE 4.2; if this fails, the
  // speed figures were measured on the portable path.
#if defined(__x86_64__)
  EXPECT_TRUE(Crc32cHardwareAvailable());
#endif
}

// Both CRCs (9.4's legacy CRC-32, CRC-32C from 9.5) on records the servers
// wrote.
TEST(WalRecordCrc, MatchesTheServersOwnCheckpointRecords) {
  // The shut-down checkpoint record in each fixture's WAL head, written by
  // the server itself.
  for (const std::string v : {"pg94", "pg95", "pg96", "pg10", "pg12", "pg15", "pg17", "pg18", "pg19"}) {
    const auto read = ParseControlFile(testing::ReadBytes(testing::FixturesDir() / v / "pg_control.shutdown"));
    ASSERT_TRUE(read.ok());
    const auto& c = read->control;
    const uint64_t seg = c.value(Field::kWalSegmentSize);
    const std::string name = SegmentNameFor(static_cast<uint32_t>(c.value(Field::kThisTimeLineId)),
                                            Lsn{c.value(Field::kCheckPoint)}, seg)
                                 .ToString(seg);
    const auto head = testing::Gunzip(testing::FixturesDir() / v / ("wal." + name + ".head.gz"));
    const size_t at = c.value(Field::kCheckPoint) % seg;
    ASSERT_GT(head.size(), at + 64) << v;
    const size_t length = head[at] | head[at + 1] << 8;
    ASSERT_LT(at % 8192 + length, 8192u) << v << ": the record crosses a page";
    const bool legacy = c.layout().crc_kind() == CrcKind::kLegacyCrc32;
    const size_t crc_at = at + (legacy ? 24 : 20);
    const uint32_t stored = head[crc_at] | head[crc_at + 1] << 8 | head[crc_at + 2] << 16 |
                            static_cast<uint32_t>(head[crc_at + 3]) << 24;
    EXPECT_EQ(WalRecordCrc(c.layout().crc_kind(), {head.data() + at, length}), stored) << v;
  }
}

}  // namespace
}  // namespace pgrescue
