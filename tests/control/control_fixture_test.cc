// Every real pg_control in fixtures/ parses, round-trips byte for byte, prints
// exactly as that version's pg_controldata did, and its JSON equals what the
// server's own SQL functions returned.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <iostream>
#include <map>
#include <set>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "libcontrol/control/control_file.h"
#include "libcontrol/control/control_json.h"
#include "libcontrol/control/control_text.h"
#include "tests/fixtures.h"

namespace pgrescue {
namespace {

using testing::ControlStates;
using testing::FixturesDir;
using testing::FixtureVersions;
using testing::ReadBytes;
using testing::ReadText;

class ControlFixture : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    setenv("TZ", "UTC", 1);  // the golden files were made with TZ=UTC
    tzset();
  }
  std::filesystem::path Dir() const { return FixturesDir() / GetParam(); }
  ControlFileRead Read(const std::string& state) const {
    auto r = ParseControlFile(ReadBytes(Dir() / ("pg_control." + state)), state);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
    return std::move(r).value();
  }
};

TEST_P(ControlFixture, ParsesCleanlyAsItsOwnVersion) {
  const std::string pg_version = testing::Trimmed(*ReadText(Dir() / "PG_VERSION"));
  for (const auto& state : ControlStates()) {
    const auto read = Read(state);
    EXPECT_EQ(read.control.layout().major(), pg_version) << state;
    EXPECT_TRUE(read.crc_ok()) << state;
    for (const auto& f : read.findings) ADD_FAILURE() << state << ": " << f.message;
  }
}

TEST_P(ControlFixture, RoundTripIsByteIdentical) {
  for (const auto& state : ControlStates()) {
    const auto original = ReadBytes(Dir() / ("pg_control." + state));
    auto written = SerializeControlFile(Read(state).control);
    ASSERT_TRUE(written.ok()) << written.error().ToString();
    EXPECT_EQ(*written, original) << state;
  }
}

TEST_P(ControlFixture, TextEqualsGoldenPgControldata) {
  int compared = 0;
  for (const auto& state : ControlStates()) {
    const auto golden = ReadText(Dir() / ("pg_controldata." + state + ".txt"));
    if (!golden) continue;  // golden text exists for 9.4, 9.5, 9.6, 15 and 19
    const auto report = FormatControlData(Read(state), "pg_controldata");
    EXPECT_EQ(report.out, *golden) << state;
    EXPECT_EQ(report.err, "");
    ++compared;
  }
  const std::string v = GetParam();
  if (v == "pg94" || v == "pg95" || v == "pg96" || v == "pg15" || v == "pg19") {
    EXPECT_EQ(compared, 3);
  }
}

// 9.6 named LSN keys *_location; pgrescue uses 10's *_lsn for every version.
std::string NormalisedKey(const std::string& key) {
  static const std::map<std::string, std::string> renamed = {
      {"checkpoint_location", "checkpoint_lsn"},
      {"prior_location", "prior_lsn"},
      {"redo_location", "redo_lsn"},
      {"min_recovery_end_location", "min_recovery_end_lsn"},
      {"backup_start_location", "backup_start_lsn"},
      {"backup_end_location", "backup_end_lsn"}};
  auto it = renamed.find(key);
  return it == renamed.end() ? key : it->second;
}

// Compares one truth file with our view of one pg_control; returns how many
// fields were compared.
int CompareWithTruth(const nlohmann::json& truth, const nlohmann::ordered_json& ours,
                     bool skip_last_modified, const std::string& what) {
  int compared = 0;
  for (const char* group : {"system", "init", "checkpoint", "recovery"}) {
    std::set<std::string> truth_keys;
    for (const auto& [key, value] : truth.at(group).items()) {
      const std::string k = NormalisedKey(key);
      truth_keys.insert(k);
      if (skip_last_modified && k == "pg_control_last_modified") continue;
      if (!ours.at(group).contains(k)) {
        ADD_FAILURE() << what << ": missing " << group << "." << k;
        continue;
      }
      EXPECT_EQ(nlohmann::json::parse(ours.at(group).at(k).dump()), value)
          << what << ": " << group << "." << k;
      ++compared;
    }
    for (const auto& [key, value] : ours.at(group).items()) {
      EXPECT_TRUE(truth_keys.count(key)) << what << ": extra key " << group << "." << key;
    }
  }
  return compared;
}

TEST_P(ControlFixture, JsonEqualsServerTruth) {
  const auto running = ReadText(Dir() / "truth.running.json");
  if (!running) {
    // 9.4 and 9.5 have no SQL functions; their server version stands in.
    const auto num = std::stoi(*ReadText(Dir() / "server_version_num.txt"));
    EXPECT_EQ(fmt::format("{}.{}", num / 10000, num / 100 % 100), Read("running").control.layout().major());
    return;
  }
  int compared = 0;
  for (const std::string state : {"running", "shutdown"}) {
    const auto truth = nlohmann::json::parse(*ReadText(Dir() / ("truth." + state + ".json")));
    const auto read = Read(state);
    // The truth for the shut-down file was taken after a restart, which
    // rewrote the file's modification time only.
    compared += CompareWithTruth(truth, ControlSqlView(read.control), state == "shutdown", state);
    const int num = std::stoi(truth.at("server_version_num").get<std::string>());
    const std::string major = num >= 100000 ? std::to_string(num / 10000)
                                            : fmt::format("{}.{}", num / 10000, num / 100 % 100);
    EXPECT_EQ(major, read.control.layout().major());
  }
  std::cout << "[ fields  ] " << GetParam() << ": " << compared << " fields equal the server's view\n";
  EXPECT_GT(compared, 70);
}

INSTANTIATE_TEST_SUITE_P(AllVersions, ControlFixture, ::testing::ValuesIn(FixtureVersions()),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace pgrescue
