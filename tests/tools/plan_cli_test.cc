// pgrescue-plan end to end: exit codes, text and JSON, and that it writes
// nothing.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "tests/fixtures.h"
#include "tests/run_command.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;
using testing::FixturesDir;
using testing::RunCommand;

const std::string kPlan = PGRESCUE_PLAN;

std::map<std::string, std::pair<uintmax_t, fs::file_time_type>> Snapshot(const fs::path& root) {
  std::map<std::string, std::pair<uintmax_t, fs::file_time_type>> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    out[e.path().string()] = {e.is_regular_file() ? e.file_size() : 0, e.last_write_time()};
  }
  return out;
}

// The sample's WAL holds a newer shutdown checkpoint than its pg_control
// points at (see fixtures/README.md): the plan says so and offers --from-wal,
// and still derives every value.
TEST(PlanCli, SampleClusterPlansAndWritesNothing) {
  const testing::SampleClusterCopy copy("plan-sample");
  const fs::path& sample = copy.path();
  const auto before = Snapshot(sample);
  const auto run = RunCommand({kPlan, "--reset-values", sample.string()});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.out.find("1. from-wal: Point pg_control at the checkpoint at 0/1703F68"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("wal-checkpoint-usable: WAL holds a checkpoint record at 0/1703F68"), std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("pgrescue-reset --from-wal -D"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("pg_resetwal -x 1048576 -u 716 -m 65536,1 -O 52352 -c 724,3726 -o 24583 "
                         "-l 000000010000000000000002 -e 0"),
            std::string::npos)
      << run.out;
  EXPECT_EQ(Snapshot(sample), before);
}

TEST(PlanCli, JsonCarriesValuesAndHazards) {
  const testing::SampleClusterCopy copy("plan-json");
  const auto run = RunCommand({kPlan, "--json", "-D", copy.path().string()});
  ASSERT_EQ(run.exit_code, 1) << run.err;
  const auto j = nlohmann::json::parse(run.out);
  EXPECT_EQ(j.at("version"), "15");
  EXPECT_EQ(j.at("needs_decision"), true);
  EXPECT_EQ(j.at("hazards").at(0).at("code"), "wal-checkpoint-usable");
  EXPECT_EQ(j.at("values").at(0).at("option"), "-x");
  EXPECT_EQ(j.at("values").at(0).at("value"), "1048576");
  EXPECT_FALSE(j.at("values").at(0).at("reasoning").empty());
}

TEST(PlanCli, HazardsExitOne) {
  const fs::path dir = fs::temp_directory_path() / ("pgrescue-plan-cli-" + std::to_string(getpid()));
  fs::create_directories(dir / "global");
  fs::copy_file(FixturesDir() / "pg15/PG_VERSION", dir / "PG_VERSION");
  fs::copy_file(FixturesDir() / "pg15/pg_control.running", dir / "global/pg_control");
  // No pg_xact at all: the status of oldestXID 716 .. NextXID 3727 is gone,
  // so restoring it comes first and the reset's values need --reset-values.
  const auto run = RunCommand({kPlan, "--reset-values", dir.string()});
  fs::remove_all(dir);
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.out.find("unclean-state"), std::string::npos);
  EXPECT_NE(run.out.find("3011 of the 3011 XIDs from oldestXID 716 to NextXID 3727"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("1. restore-xact"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("pg_resetwal -f "), std::string::npos);
}

TEST(PlanCli, UnusableInputExitsTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {kPlan, "/nonexistent/pgdata"},
           {kPlan, "--wal-archive", "/nonexistent/archive", (FixturesDir() / "sample-cluster").string()},
           {kPlan, (FixturesDir() / "pg15").string()},  // no global/pg_control and PG_VERSION only
           {kPlan, "--bogus"},
           {kPlan}}) {
    const auto run = RunCommand(args, {"-PGDATA"});
    if (args.size() == 2 && args[1].ends_with("pg15")) {
      // PG_VERSION alone still allows a plan (with hazards).
      EXPECT_EQ(run.exit_code, 1) << run.err;
      continue;
    }
    EXPECT_EQ(run.exit_code, 2) << args.back() << ": " << run.out;
    EXPECT_EQ(run.out, "");
    EXPECT_NE(run.err.find("pgrescue-plan: error: "), std::string::npos) << run.err;
  }
}

}  // namespace
}  // namespace pgrescue
