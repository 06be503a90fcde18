// Damaged and foreign pg_control files: each gives the right error, or is
// read with the right finding.
#include <gtest/gtest.h>

#include <random>

#include "libcontrol/control/control_file.h"
#include "libcontrol/base/crc.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

using testing::FixturesDir;
using testing::ReadBytes;

std::vector<uint8_t> Fixture(const std::string& version, const std::string& state = "shutdown") {
  return ReadBytes(FixturesDir() / version / ("pg_control." + state));
}

void PutU32(std::vector<uint8_t>* b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*b)[off + i] = static_cast<uint8_t>(v >> (8 * i));
}

// Rewrites a field and fixes the CRC, as a writer with other values would.
void SetWithValidCrc(std::vector<uint8_t>* b, size_t off, uint32_t v, CrcKind kind, size_t crc_off) {
  PutU32(b, off, v);
  PutU32(b, crc_off, ComputeCrc(kind, std::span(*b).first(crc_off)));
}

bool HasFinding(const ControlFileRead& r, FindingKind kind) {
  for (const auto& f : r.findings) {
    if (f.kind == kind) return true;
  }
  return false;
}

TEST(ControlMalformed, EmptyFile) {
  auto r = ParseControlFile({}, "x/global/pg_control");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kEmpty);
  EXPECT_EQ(r.error().where, "x/global/pg_control");
}

TEST(ControlMalformed, TooShortForVersion) {
  auto b = Fixture("pg15");
  b.resize(10);
  auto r = ParseControlFile(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTruncated);
}

TEST(ControlMalformed, TruncatedInsideTheStruct) {
  auto b = Fixture("pg15");
  b.resize(200);  // 15 needs 296
  auto r = ParseControlFile(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTruncated);
  EXPECT_NE(r.error().message.find("296"), std::string::npos) << r.error().message;
}

TEST(ControlMalformed, ShortButCompleteStructIsReadWithAFinding) {
  auto b = Fixture("pg15");
  b.resize(512);
  auto r = ParseControlFile(b);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->crc_ok());
  EXPECT_TRUE(HasFinding(*r, FindingKind::kUnexpectedFileSize));
}

TEST(ControlMalformed, FlippedByteIsACrcMismatchButStillRead) {
  for (const std::string v : {"pg94", "pg95", "pg15", "pg18", "pg19"}) {
    auto b = Fixture(v);
    b[100] ^= 0x01;  // inside the checkpoint copy of every layout
    auto r = ParseControlFile(b);
    ASSERT_TRUE(r.ok()) << v;
    EXPECT_FALSE(r->crc_ok()) << v;
    EXPECT_TRUE(HasFinding(*r, FindingKind::kCrcMismatch)) << v;
  }
}

TEST(ControlMalformed, WrongStoredCrc) {
  auto b = Fixture("pg17");
  PutU32(&b, 288, 0xDEADBEEF);
  auto r = ParseControlFile(b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->crc_stored, 0xDEADBEEFu);
  EXPECT_FALSE(r->crc_ok());
}

TEST(ControlMalformed, OtherEndianness) {
  auto b = Fixture("pg15");
  std::swap(b[8], b[11]);
  std::swap(b[9], b[10]);
  auto r = ParseControlFile(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kOtherEndianness);
  EXPECT_NE(r.error().message.find("1300"), std::string::npos) << r.error().message;
}

TEST(ControlMalformed, UnknownVersionNamesTheNearest) {
  auto b = Fixture("pg15");
  PutU32(&b, 8, 1500);
  auto r = ParseControlFile(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnknownVersion);
  EXPECT_NE(r.error().message.find("1300 (PostgreSQL 13–16)"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("1700 (PostgreSQL 17)"), std::string::npos) << r.error().message;
}

TEST(ControlMalformed, RandomBytesAreNotAControlFile) {
  std::mt19937 rng(20261121);
  for (int i = 0; i < 200; ++i) {
    std::vector<uint8_t> b(kControlFileSize);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    auto r = ParseControlFile(b);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.error().code == ErrorCode::kUnknownVersion ||
                r.error().code == ErrorCode::kOtherEndianness);
  }
}

TEST(ControlMalformed, ImplausibleValuesWithAValidCrc) {
  // 15: state at 16, xlog_seg_size at 228, blcksz at 216; CRC-32C at 288.
  struct Case { size_t offset; uint32_t value; };
  for (const Case c : {Case{16, 9}, Case{228, 3000000}, Case{228, 0}, Case{216, 3000}, Case{172, 7}}) {
    auto b = Fixture("pg15");
    SetWithValidCrc(&b, c.offset, c.value, CrcKind::kCrc32c, 288);
    auto r = ParseControlFile(b);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->crc_ok());
    EXPECT_TRUE(HasFinding(*r, FindingKind::kImplausibleValue)) << c.offset << "=" << c.value;
  }
}

TEST(ControlMalformed, SharedVersion942IsToldApartByCrcWhenCatalogVersionIsOdd) {
  // A development build's catalog version fits neither 9.4 nor 9.5: the CRC
  // that validates decides.
  auto b94 = Fixture("pg94");
  SetWithValidCrc(&b94, 12, 1, CrcKind::kLegacyCrc32, 240);
  auto r94 = ParseControlFile(b94);
  ASSERT_TRUE(r94.ok());
  EXPECT_EQ(r94->control.layout().major(), "9.4");
  EXPECT_TRUE(r94->crc_ok());
  EXPECT_TRUE(HasFinding(*r94, FindingKind::kCatalogVersionOutOfRange));

  auto b95 = Fixture("pg95");
  SetWithValidCrc(&b95, 12, 1, CrcKind::kCrc32c, 256);
  auto r95 = ParseControlFile(b95);
  ASSERT_TRUE(r95.ok());
  EXPECT_EQ(r95->control.layout().major(), "9.5");
  EXPECT_TRUE(r95->crc_ok());
}

TEST(ControlMalformed, Shared1300IsToldApartByCatalogVersion) {
  EXPECT_EQ(ParseControlFile(Fixture("pg13"))->control.layout().major(), "13");
  EXPECT_EQ(ParseControlFile(Fixture("pg14"))->control.layout().major(), "14");
  EXPECT_EQ(ParseControlFile(Fixture("pg16"))->control.layout().major(), "16");
}

TEST(ControlModel, AbsentFieldsAreAbsentNotZero) {
  auto r13 = ParseControlFile(Fixture("pg13"));
  ASSERT_TRUE(r13.ok());
  EXPECT_FALSE(r13->control.get(Field::kFloat4ByVal).has_value());
  EXPECT_FALSE(r13->control.get(Field::kPrevCheckPoint).has_value());
  EXPECT_FALSE(r13->control.get(Field::kDefaultCharSignedness).has_value());
  EXPECT_TRUE(r13->control.get(Field::kMaxWalSenders).has_value());
  auto r94 = ParseControlFile(Fixture("pg94"));
  ASSERT_TRUE(r94.ok());
  EXPECT_FALSE(r94->control.nonce().has_value());
  EXPECT_FALSE(r94->control.get(Field::kOldestCommitTsXid).has_value());
  EXPECT_FALSE(r94->control.set(Field::kOldestCommitTsXid, 5));
}

TEST(ControlModel, WritingIntoAnotherLayoutNeedsEveryField) {
  auto r13 = ParseControlFile(Fixture("pg13"));
  ASSERT_TRUE(r13.ok());
  // 12 has float4ByVal, which a 13 model lacks.
  auto written = SerializeControlFile(r13->control, *FindLayoutByMajor("12"));
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code, ErrorCode::kMissingField);
  EXPECT_NE(written.error().message.find("float4ByVal"), std::string::npos);
  // 14 has the same fields as 13.
  EXPECT_TRUE(SerializeControlFile(r13->control, *FindLayoutByMajor("14")).ok());
}

TEST(ControlModel, ChangedValueIsWrittenWithANewValidCrc) {
  auto r = ParseControlFile(Fixture("pg12"));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->control.set(Field::kNextXidEpoch, 3));
  ASSERT_TRUE(r->control.set(Field::kNextXid, 1048576));
  auto bytes = SerializeControlFile(r->control);
  ASSERT_TRUE(bytes.ok());
  auto again = ParseControlFile(*bytes);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->crc_ok());
  EXPECT_EQ(again->control.next_full_xid(), (3ull << 32) | 1048576);
}

}  // namespace
}  // namespace pgrescue
