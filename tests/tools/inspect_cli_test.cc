// pgrescue-inspect end to end: inputs, outputs and exit codes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/fixtures.h"
#include "tests/run_command.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;
using testing::FixturesDir;
using testing::ReadText;
using testing::RunCommand;

const std::string kInspect = PGRESCUE_INSPECT;
const std::vector<std::string> kUtc = {"TZ=UTC", "LANG=C", "LC_ALL=C", "-PGDATA"};

class InspectCli : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_ = fs::temp_directory_path() /
           ("pgrescue-inspect-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(tmp_ / "global");
  }
  void TearDown() override { fs::remove_all(tmp_); }

  // A data directory holding `version`'s `state` pg_control, optionally altered.
  fs::path DataDir(const std::string& version, const std::string& state = "shutdown") {
    fs::copy_file(FixturesDir() / version / ("pg_control." + state), tmp_ / "global/pg_control",
                  fs::copy_options::overwrite_existing);
    fs::copy_file(FixturesDir() / version / "PG_VERSION", tmp_ / "PG_VERSION",
                  fs::copy_options::overwrite_existing);
    return tmp_;
  }
  void Poke(size_t offset, uint8_t value) {
    std::fstream f(tmp_ / "global/pg_control", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(static_cast<char>(value));
  }

  fs::path tmp_;
};

TEST_F(InspectCli, DataDirectoryThreeWaysPrintsGoldenText) {
  const auto golden = *ReadText(FixturesDir() / "pg15/pg_controldata.shutdown.txt");
  const auto dir = DataDir("pg15").string();
  for (const auto& run : {RunCommand({kInspect, dir}, kUtc), RunCommand({kInspect, "-D", dir}, kUtc),
                          RunCommand({kInspect, "--pgdata", dir}, kUtc)}) {
    EXPECT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.out, golden);
    EXPECT_EQ(run.err, "");
  }
  auto env = kUtc;
  env.push_back("PGDATA=" + dir);
  const auto from_env = RunCommand({kInspect}, env);
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;
  EXPECT_EQ(from_env.out, golden);
}

TEST_F(InspectCli, BareFile) {
  const auto run = RunCommand({kInspect, "--file", (FixturesDir() / "pg94/pg_control.running").string()}, kUtc);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, *ReadText(FixturesDir() / "pg94/pg_controldata.running.txt"));
}

TEST_F(InspectCli, JsonHasTheSqlGroupsAndControl) {
  const auto run = RunCommand({kInspect, "--json", DataDir("pg18", "running").string()}, kUtc);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto doc = nlohmann::json::parse(run.out);
  const auto truth = nlohmann::json::parse(*ReadText(FixturesDir() / "pg18/truth.running.json"));
  for (const char* group : {"system", "init", "checkpoint", "recovery"}) EXPECT_EQ(doc.at(group), truth.at(group));
  EXPECT_EQ(doc.at("control").at("layout"), "18");
  EXPECT_EQ(doc.at("control").at("state"), "in production");
  EXPECT_EQ(doc.at("control").at("max_connections"), 42);
  EXPECT_EQ(doc.at("control").at("max_prepared_xacts"), 7);
  EXPECT_EQ(doc.at("control").at("crc_ok"), true);
  EXPECT_EQ(doc.at("control").at("mock_authentication_nonce").get<std::string>().size(), 64u);
}

TEST_F(InspectCli, CrcMismatchUpTo16WarnsOnStdoutLikePgControldata) {
  DataDir("pg15");
  Poke(100, 0xAA);
  const auto run = RunCommand({kInspect, tmp_.string()}, kUtc);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(run.out.starts_with(
      "WARNING: Calculated CRC checksum does not match value stored in file.\n"
      "Either the file is corrupt, or it has a different layout than this program\n"
      "is expecting.  The results below are untrustworthy.\n\npg_control version number:"))
      << run.out;
}

TEST_F(InspectCli, CrcMismatchFrom17WarnsOnStderr) {
  DataDir("pg19");
  Poke(100, 0xAA);
  const auto run = RunCommand({kInspect, tmp_.string()}, kUtc);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(run.out.starts_with("pg_control version number:")) << run.out;
  EXPECT_NE(run.err.find("pgrescue-inspect: warning: calculated CRC checksum does not match value "
                         "stored in control file\n"),
            std::string::npos)
      << run.err;
}

TEST_F(InspectCli, PgVersionDisagreeingIsAWarning) {
  DataDir("pg15");
  std::ofstream(tmp_ / "PG_VERSION") << "14\n";
  const auto run = RunCommand({kInspect, tmp_.string()}, kUtc);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("PG_VERSION says 14 but pg_control is PostgreSQL 15's"), std::string::npos) << run.err;
}

TEST_F(InspectCli, UnusableInputsExitTwoAndPrintNothing) {
  struct Case {
    std::string what;
    std::vector<std::string> args;
    std::string expect_in_err;
  };
  std::ofstream(tmp_ / "empty");
  std::ofstream(tmp_ / "short") << "0123456789abcdef0123";
  std::ofstream(tmp_ / "junk") << std::string(8192, 'x');
  fs::create_directories(tmp_ / "dir/global/pg_control");
  fs::create_directories(tmp_ / "fifo/global");
  mkfifo((tmp_ / "fifo/global/pg_control").c_str(), 0600);
  std::ofstream(tmp_ / "sparse");
  fs::resize_file(tmp_ / "sparse", 8ull << 30);
  const std::vector<Case> cases = {
      {"missing data dir", {kInspect, (tmp_ / "nope").string()}, "does not exist"},
      {"missing pg_control", {kInspect, tmp_.string()}, "global/pg_control\" is missing"},
      {"missing file", {kInspect, "--file", (tmp_ / "nope").string()}, "nope"},
      {"empty", {kInspect, "--file", (tmp_ / "empty").string()}, "empty"},
      {"short", {kInspect, "--file", (tmp_ / "short").string()}, "unknown pg_control version"},
      {"junk", {kInspect, "--file", (tmp_ / "junk").string()}, "unknown pg_control version"},
      {"pg_control a directory", {kInspect, (tmp_ / "dir").string()}, "pg_control: is a directory, not a file"},
      {"pg_control a FIFO", {kInspect, (tmp_ / "fifo").string()}, "pg_control: is a FIFO, not a file"},
      {"8 GB sparse", {kInspect, "--file", (tmp_ / "sparse").string()}, "is 8589934592 bytes; PostgreSQL writes"},
      {"no data dir", {kInspect}, "no data directory specified"},
      {"unknown option", {kInspect, "--frobnicate"}, "--help"},
      {"file and dir", {kInspect, "--file", "a", "b"}, "not both"},
      {"dir twice", {kInspect, "-D", "a", "b"}, "once"},
  };
  for (const auto& c : cases) {
    const auto run = RunCommand(c.args, kUtc);
    EXPECT_EQ(run.exit_code, 2) << c.what << ": " << run.err;
    EXPECT_EQ(run.out, "") << c.what;
    EXPECT_NE(run.err.find(c.expect_in_err), std::string::npos) << c.what << ": " << run.err;
  }
}

TEST_F(InspectCli, HelpTeachesExitCodes) {
  const auto run = RunCommand({kInspect, "--help"}, kUtc);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find("Exit status"), std::string::npos);
  EXPECT_NE(run.out.find("--json"), std::string::npos);
}

TEST_F(InspectCli, WalReportsTheSampleClustersWal) {
  const std::string sample = (FixturesDir() / "sample-cluster").string();
  const auto text = RunCommand({kInspect, "--wal", sample}, kUtc);
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("Newest usable checkpoint:             0/1703F68"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("End of valid WAL:                     0/1703FE0 (end of WAL"), std::string::npos)
      << text.out;
  const auto json = RunCommand({kInspect, "--wal", "--full", "--json", "-D", sample}, kUtc);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j.at("mode"), "full");
  EXPECT_EQ(j.at("newest_usable_checkpoint"), "0/1703F68");
  EXPECT_EQ(j.at("end").at("lsn"), "0/1703FE0");
  // initdb's checkpoints, the running cluster's, pg_control's, the later one.
  const auto& checkpoints = j.at("checkpoints");
  ASSERT_GE(checkpoints.size(), 2u);
  const auto& ours = checkpoints.at(checkpoints.size() - 2);
  EXPECT_EQ(ours.at("lsn"), "0/1703EF0");
  EXPECT_EQ(ours.at("kind"), "shutdown");
  EXPECT_EQ(ours.at("fields").at("next_xid"), "0:3727");
  EXPECT_EQ(ours.at("fields").at("redo_lsn"), "0/1703EF0");
}

TEST_F(InspectCli, WalBadUsageAndMissingWal) {
  const std::string sample = (FixturesDir() / "sample-cluster").string();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {kInspect, "--full", sample}, {kInspect, "--wal", "--file", sample + "/global/pg_control"}}) {
    const auto run = RunCommand(args, kUtc);
    EXPECT_EQ(run.exit_code, 2) << run.err;
    EXPECT_TRUE(run.out.empty());
  }
  const auto dir = DataDir("pg15");  // pg_control and PG_VERSION, no pg_wal
  const auto run = RunCommand({kInspect, "--wal", dir.string()}, kUtc);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("no pg_wal or pg_xlog"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace pgrescue
