#include "libcontrol/crc.h"

#include <gtest/gtest.h>

#include <string_view>

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

}  // namespace
}  // namespace pgrescue
