// The planner on synthetic data directories: real pg_control fixtures, SLRU
// and WAL listings made to order.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "libcontrol/cluster/data_dir.h"
#include "libcontrol/plan/planner.h"
#include "libcontrol/slru/slru.h"
#include "libcontrol/slru/slru_run.h"
#include "libcontrol/base/wal_names.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;
using testing::FixturesDir;

class PlannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("pgrescue-plan-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "global");
  }
  void TearDown() override { fs::remove_all(root_); }

  // A cluster of `version` (fixture folder) with its shut-down pg_control.
  void Cluster(const std::string& version, bool with_control = true) {
    fs::copy_file(FixturesDir() / version / "PG_VERSION", root_ / "PG_VERSION");
    if (with_control) fs::copy_file(FixturesDir() / version / "pg_control.shutdown", root_ / "global/pg_control");
  }
  void File(const std::string& rel, uint64_t size = 8192) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel, std::ios::binary).close();
    fs::resize_file(root_ / rel, size);
  }
  void Files(const std::string& dir, std::initializer_list<const char*> names, uint64_t size = 8192) {
    for (const char* n : names) File(dir + "/" + n, size);
  }
  Plan MakeIt(const std::vector<std::string>& archives = {}) {
    auto dir = ScanDataDir(root_.string(), archives);
    EXPECT_TRUE(dir.ok());
    auto plan = MakePlan(*dir);
    EXPECT_TRUE(plan.ok()) << (plan.ok() ? "" : plan.error().ToString());
    return std::move(plan).value();
  }
  static const DerivedValue& Value(const Plan& p, const std::string& option) {
    for (const auto& v : p.values) {
      if (v.option == option) return v;
    }
    static const DerivedValue none;
    ADD_FAILURE() << "no value " << option;
    return none;
  }
  static bool Has(const Plan& p, const std::string& code) {
    for (const auto& h : p.hazards) {
      if (h.code == code) return true;
    }
    return false;
  }

  fs::path root_;
};

TEST_F(PlannerTest, OneSegmentEachLikeTheFixtureCluster) {
  Cluster("pg15");
  File("pg_xact/0000");
  File("pg_multixact/offsets/0000", 24576);
  File("pg_multixact/members/0000", 65536);
  File("pg_commit_ts/0000", 40960);
  File("pg_wal/000000010000000000000001", 16 << 20);
  const Plan p = MakeIt();
  // The WAL file holds zeros: no checkpoint to recover from, so the one
  // remedy is a reset, and that needs a decision.
  EXPECT_TRUE(p.NeedsDecision());
  ASSERT_EQ(p.remedies.size(), 1u);
  EXPECT_EQ(p.remedies[0].code, "reset");
  EXPECT_FALSE(Has(p, "xact-missing"));
  EXPECT_FALSE(p.needs_force);
  EXPECT_EQ(Value(p, "-x").value, "1048576");
  EXPECT_EQ(Value(p, "-u").value, "716");  // pg_control's, inside the run
  EXPECT_EQ(Value(p, "-m").value, "65536,1");
  EXPECT_EQ(Value(p, "-O").value, "52352");
  EXPECT_EQ(Value(p, "-c").value, "724,3726");
  EXPECT_EQ(Value(p, "-o").value, "24583");  // 16391 + 8192
  EXPECT_EQ(Value(p, "-l").value, "000000010000000000000002");
  EXPECT_EQ(Value(p, "-e").value, "0");
  EXPECT_EQ(p.command,
            "pg_resetwal -x 1048576 -u 716 -m 65536,1 -O 52352 -c 724,3726 -o 24583 -l "
            "000000010000000000000002 -e 0 -D '" + root_.string() + "'");
}

TEST_F(PlannerTest, EmptyDirectoriesFallBackToPgControl) {
  Cluster("pg15");
  fs::create_directories(root_ / "pg_xact");
  fs::create_directories(root_ / "pg_wal");
  const Plan p = MakeIt();
  // NextXID 3727 lies in the missing pg_xact/0000, whose page the server
  // reads when it starts: the next segment boundary instead, and a hazard
  // that the status of oldestXID..NextXID is gone.
  EXPECT_EQ(Value(p, "-x").value, "1048576");
  EXPECT_EQ(Value(p, "-x").confidence, Confidence::kMedium);
  EXPECT_TRUE(Has(p, "xact-missing"));
  EXPECT_TRUE(Has(p, "multixact-missing"));  // MultiXacts 1..600 had offsets in 0000
  // No relation file was read, so nothing shows which rows depend on a
  // lost status: the rebuild claims nothing and follows the backup.
  ASSERT_GE(p.remedies.size(), 3u);
  EXPECT_EQ(p.remedies[0].code, "restore-xact");
  EXPECT_EQ(p.remedies[1].code, "rebuild-xact");
  EXPECT_EQ(p.remedies[1].loses.rfind("unknown: no relation file was read", 0), 0u) << p.remedies[1].loses;
  EXPECT_EQ(p.remedies[2].code, "reset");
  EXPECT_TRUE(Has(p, "redo-segment-missing"));
  EXPECT_EQ(Value(p, "-l").value, "000000010000000000000002");
}

TEST_F(PlannerTest, ManySegmentsWithHolesAndJunk) {
  Cluster("pg15");
  Files("pg_xact", {"0000", "0001", "0003", "0005"});
  File("pg_xact/README");
  File("pg_xact/0000.bak");
  const Plan p = MakeIt();
  EXPECT_EQ(Value(p, "-x").value, std::to_string(6 * 1048576));
  EXPECT_TRUE(Has(p, "slru-holes"));
  EXPECT_TRUE(Has(p, "unknown-files"));
  EXPECT_TRUE(p.NeedsDecision());
}

TEST_F(PlannerTest, WraparoundInEverySlru) {
  Cluster("pg15", false);
  Files("pg_xact", {"0FFE", "0FFF", "0000", "0001"});
  Files("pg_multixact/offsets", {"FFFF", "0000"});
  Files("pg_multixact/members", {"14077", "14078"});
  Files("pg_commit_ts", {"28028", "0000"});
  const Plan p = MakeIt();
  EXPECT_EQ(Value(p, "-x").value, "2097152");        // after 0001
  EXPECT_EQ(Value(p, "-u").value, std::to_string(0xFFEu * 1048576));
  EXPECT_EQ(Value(p, "-m").value, "65536," + std::to_string(0xFFFFu * 65536));
  EXPECT_EQ(Value(p, "-O").value, "0");              // 14078 is the last: wraps to 0
  EXPECT_EQ(Value(p, "-c").value, std::to_string(0x28028u * 26208) + ",818");  // one 8 kB page of 0000
  EXPECT_TRUE(Has(p, "control-missing"));
  EXPECT_TRUE(p.needs_force);
  EXPECT_EQ(Value(p, "-e").value, "unknown");
  EXPECT_FALSE(Value(p, "-e").in_command);
}

TEST_F(PlannerTest, XidWrapsPastTheLastSegment) {
  Cluster("pg15", false);
  Files("pg_xact", {"0FFE", "0FFF"});
  const Plan p = MakeIt();
  // 0 wraps and XIDs 0-2 are special; 3 lies in the missing segment 0000,
  // whose page the server would read at start: the next boundary is safe.
  EXPECT_EQ(Value(p, "-x").value, "1048576");
}

TEST_F(PlannerTest, FiveHexDigitMembers) {
  Cluster("pg15");
  Files("pg_multixact/members", {"FFFF", "10000"});
  const Plan p = MakeIt();
  EXPECT_EQ(Value(p, "-O").value, std::to_string(0x10001ull * 52352));
}

TEST_F(PlannerTest, PreTenNamesAndTool) {
  Cluster("pg96");
  Files("pg_clog", {"0000"});
  File("pg_xlog/000000010000000000000001", 16 << 20);
  File("pg_xlog/00000002.history", 42);
  const Plan p = MakeIt();
  EXPECT_EQ(Value(p, "-x").value, "1048576");
  EXPECT_EQ(Value(p, "-l").value, "000000020000000000000002");  // newest timeline from .history
  EXPECT_TRUE(p.command.starts_with("pg_resetxlog "));
}

TEST_F(PlannerTest, NinetyFourHasNoOldestXidOrCommitTs) {
  Cluster("pg94");
  const Plan p = MakeIt();
  EXPECT_FALSE(Value(p, "-u").in_command);
  for (const auto& v : p.values) EXPECT_NE(v.option, "-c");
  EXPECT_EQ(p.command.find(" -u "), std::string::npos);
}

TEST_F(PlannerTest, SegmentSizesFromWalWhenPgControlIsGone) {
  for (uint64_t mb : {1ull, 64ull, 1024ull}) {
    fs::remove_all(root_);
    fs::create_directories(root_ / "global");
    Cluster("pg15", false);
    const uint64_t size = mb << 20;
    // 64 GiB into the WAL: segment number 64 GiB / size.
    const uint64_t segno = (64ull << 30) / size;
    const std::string name = WalSegmentName{1, segno}.ToString(size);
    File("pg_wal/" + name, size);
    const Plan p = MakeIt();
    EXPECT_EQ(Value(p, "-l").value, (WalSegmentName{1, segno + 1}.ToString(size))) << mb;
  }
}

TEST_F(PlannerTest, SegmentSizeFromALongPageHeader) {
  Cluster("pg15", false);
  // A 64 MB segment cut short: its size says nothing, its header does.
  const uint64_t size = 64ull << 20;
  const std::string name = WalSegmentName{1, 5}.ToString(size);
  File("pg_wal/" + name, 8192);
  std::fstream f(root_ / "pg_wal" / name, std::ios::in | std::ios::out | std::ios::binary);
  const uint8_t header[40] = {0x10, 0xD1, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 1, 0, 0, 0,
                              0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
                              0, 0, 0, 4, 0, 0x20, 0, 0};
  f.write(reinterpret_cast<const char*>(header), sizeof header);
  f.close();
  const Plan p = MakeIt();
  EXPECT_EQ(Value(p, "-l").value, (WalSegmentName{1, 6}.ToString(size)));
}

TEST_F(PlannerTest, SixteenKilobyteBlocksFromADataPage) {
  Cluster("pg15", false);
  File("base/5/16384", 16384);
  {
    std::fstream f(root_ / "base/5/16384", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(18);
    const uint8_t v[2] = {0x04, 0x40};  // pd_pagesize_version = 16384 | 4
    f.write(reinterpret_cast<const char*>(v), 2);
  }
  Files("pg_xact", {"0000"});
  const Plan p = MakeIt();
  EXPECT_EQ(Value(p, "-x").value, "2097152");
  EXPECT_EQ(Value(p, "-o").value, "16385");
}

TEST_F(PlannerTest, WalArchiveCounts) {
  Cluster("pg15");
  File("pg_wal/000000010000000000000001", 16 << 20);
  const fs::path archive = root_.string() + "-archive";
  fs::create_directories(archive);
  std::ofstream(archive / "00000003000000000000000A.partial").close();
  const Plan p = MakeIt({archive.string()});
  fs::remove_all(archive);
  EXPECT_EQ(Value(p, "-l").value, "00000003000000000000000B");
}

TEST_F(PlannerTest, LiveAndStalePostmaster) {
  Cluster("pg15");
  std::ofstream(root_ / "postmaster.pid") << getpid() << "\n" << root_.string() << "\n";
  EXPECT_TRUE(Has(MakeIt(), "live-postmaster"));
  std::ofstream(root_ / "postmaster.pid") << 0x3FFFFFFF << "\n";
  const Plan p = MakeIt();
  EXPECT_TRUE(Has(p, "stale-postmaster-pid"));
  EXPECT_FALSE(Has(p, "live-postmaster"));
}

TEST_F(PlannerTest, BackupLabelAndUncleanState) {
  Cluster("pg15");
  fs::copy_file(FixturesDir() / "pg15/pg_control.running", root_ / "global/pg_control",
                fs::copy_options::overwrite_existing);
  std::ofstream(root_ / "backup_label") << "START WAL LOCATION: 0/2000028\n";
  const Plan p = MakeIt();
  EXPECT_TRUE(Has(p, "backup-label"));
  EXPECT_TRUE(Has(p, "unclean-state"));
  EXPECT_TRUE(p.needs_force);
  EXPECT_TRUE(p.command.starts_with("pg_resetwal -f "));
}

TEST_F(PlannerTest, CorruptAndForeignPgControl) {
  Cluster("pg15");
  {
    std::fstream f(root_ / "global/pg_control", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x77');
  }
  Plan p = MakeIt();
  EXPECT_TRUE(Has(p, "control-corrupt"));
  EXPECT_TRUE(p.needs_force);
  fs::copy_file(FixturesDir() / "pg14/pg_control.shutdown", root_ / "global/pg_control",
                fs::copy_options::overwrite_existing);
  p = MakeIt();
  EXPECT_TRUE(Has(p, "version-mismatch"));
}

TEST_F(PlannerTest, NoVersionAtAllIsUnusable) {
  auto dir = ScanDataDir(root_.string(), {});
  ASSERT_TRUE(dir.ok());
  auto plan = MakePlan(*dir);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("PG_VERSION"), std::string::npos);
}

TEST_F(PlannerTest, NineteenUsesWideOffsets) {
  Cluster("pg19");
  Files("pg_multixact/offsets", {"0000"});
  Files("pg_multixact/members", {"000000000000000"});
  const Plan p = MakeIt();
  EXPECT_EQ(Value(p, "-m").value, "32768,1");
  EXPECT_EQ(Value(p, "-O").value, "52352");
}

// 19's members never wrap and number 2^60 segments: two files far apart make
// a run of 2^56 + 1, said as one span (the run once listed every hole).
TEST_F(PlannerTest, NineteenMembersFarApart) {
  Cluster("pg19");
  Files("pg_multixact/offsets", {"0000"});
  Files("pg_multixact/members", {"000000000000000", "100000000000000"});
  const Plan p = MakeIt();
  std::string holes;
  for (const auto& h : p.hazards) {
    if (h.code == "slru-holes") holes = h.message;
  }
  EXPECT_EQ(holes, "pg_multixact/members is missing 72057594037927935 segment(s) inside its run "
                   "000000000000000–100000000000000: 000000000000001–0FFFFFFFFFFFFFF. The multixact members they "
                   "held are lost; rows that need them will fail with \"could not access status\" errors");
}

}  // namespace
}  // namespace pgrescue
