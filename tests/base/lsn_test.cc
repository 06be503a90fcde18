#include "libcontrol/base/lsn.h"

#include <gtest/gtest.h>

namespace pgrescue {
namespace {

TEST(Lsn, FormatsLikePostgres) {
  EXPECT_EQ(FormatLsn(Lsn{0x1703E78}), "0/1703E78");
  EXPECT_EQ(FormatLsn(Lsn{0}), "0/0");
  EXPECT_EQ(FormatLsn(Lsn{0x3E8}, LsnStyle::kZeroPaddedLow), "0/000003E8");
  EXPECT_EQ(FormatLsn(Lsn{0x0000001200000000ull}), "12/0");
}

TEST(Lsn, ParsesBothCases) {
  auto a = ParseLsn("16/B374D848");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value, 0x16B374D848ull);
  auto b = ParseLsn("0/0193b550");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->value, 0x193B550ull);
}

TEST(Lsn, RejectsMalformed) {
  for (const char* bad : {"", "/", "0/", "/1", "1", "0x1/2", "123456789/0", "0/G", "0/1/2"}) {
    auto r = ParseLsn(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace pgrescue
