// RebuildControlFile on the real sample cluster (PostgreSQL 15) with its
// pg_control removed: every value it derives is compared with the pg_control
// the server itself wrote.
#include <gtest/gtest.h>

#include <filesystem>

#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/control/control_file.h"
#include "libcontrol/reset/rebuild.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;
using testing::FixturesDir;

class RebuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::remove(root_ / "global/pg_control");
    real_ = ParseControlFile(testing::ReadBytes(FixturesDir() / "sample-cluster/global/pg_control"))->control;
  }

  Result<Rebuilt> Rebuild() {
    auto dir = ScanDataDir(root_.string(), {});
    EXPECT_TRUE(dir);
    return RebuildControlFile(*dir, *FindLayoutByMajor("15"), {std::nullopt, 1700000000});
  }

  testing::SampleClusterCopy copy_{"rebuild"};
  const fs::path& root_ = copy_.path();
  ControlFile real_ = ControlFile(*FindLayoutByMajor("15"));
};

bool Mentions(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines) {
    if (l.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST_F(RebuildTest, IdentityGeometryAndBuildConstantsAreThoseTheServerWrote) {
  auto built = Rebuild();
  ASSERT_TRUE(built) << built.error().ToString();
  const ControlFile& c = built->control;
  EXPECT_EQ(&c.layout(), &real_.layout());
  for (Field f : {Field::kSystemIdentifier, Field::kCatalogVersion, Field::kWalSegmentSize, Field::kWalBlockSize,
                  Field::kBlockSize, Field::kMaxAlign, Field::kFloatFormat, Field::kRelSegSize, Field::kNameDataLen,
                  Field::kIndexMaxKeys, Field::kToastMaxChunkSize, Field::kLargeObjectChunkSize,
                  Field::kFloat8ByVal, Field::kDataChecksumVersion}) {
    EXPECT_EQ(c.value(f), real_.value(f)) << FieldName(f);
  }
  EXPECT_EQ(c.value(Field::kSystemIdentifier), 7710677240256943411u) << "pg_resetwal-n.shutdown.txt's";
  EXPECT_TRUE(Mentions(built->evidence, "the long page header of")) << "the identity comes from WAL";
  EXPECT_TRUE(Mentions(built->evidence, "the catalog version of every 15 release"));
  // The sample has no data pages: the block size and checksums are assumed, and said so.
  EXPECT_TRUE(Mentions(built->warnings, "the block size is assumed to be 8192"));
  EXPECT_TRUE(Mentions(built->warnings, "checksums are assumed off"));
  // The result serialises with a valid CRC in 15's layout.
  auto bytes = SerializeControlFile(c);
  ASSERT_TRUE(bytes);
  auto read = ParseControlFile(*bytes);
  ASSERT_TRUE(read);
  EXPECT_TRUE(read->crc_ok());
}

TEST_F(RebuildTest, WithoutWalTheIdentityIsNewAndTheWarningsSaySo) {
  fs::remove(root_ / "pg_wal/000000010000000000000001");
  auto built = Rebuild();
  ASSERT_TRUE(built) << built.error().ToString();
  EXPECT_NE(built->control.value(Field::kSystemIdentifier), real_.value(Field::kSystemIdentifier));
  EXPECT_EQ(built->control.value(Field::kWalSegmentSize), 16u << 20);
  EXPECT_TRUE(Mentions(built->warnings, "no WAL survives: the system identifier is new"));
  EXPECT_TRUE(Mentions(built->warnings, "the WAL segment size is assumed to be 16 MB"));
}

}  // namespace
}  // namespace pgrescue
