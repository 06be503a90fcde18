// The paths DBAs type: a data directory whose name has a space, given with
// a trailing slash, or relative to where they stand. Every tool reads them
// as it reads the plain absolute path, and the undo command a reset prints,
// run as printed from the same directory, puts every byte back.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/fixtures.h"
#include "tests/run_command.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::ScratchDir;

const std::vector<std::string> kEnv = {"TZ=UTC", "LANG=C", "LC_ALL=C", "-PGDATA"};

// Runs `argv` with `cwd` as the working directory.
testing::CommandResult RunIn(const fs::path& cwd, std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"/usr/bin/env", "-C", cwd.string()});
  return RunCommand(argv, kEnv);
}

std::map<std::string, std::vector<uint8_t>> Files(const fs::path& root) {
  std::map<std::string, std::vector<uint8_t>> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = testing::ReadBytes(e.path());
  }
  return out;
}

class PathsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::copy(testing::FixturesDir() / "sample-cluster", data_, fs::copy_options::recursive);
  }
  ScratchDir scratch_{"paths"};
  const fs::path data_ = scratch_.path() / "data dir";
};

TEST_F(PathsCli, EveryToolReadsEveryFormOfThePath) {
  const std::vector<std::vector<std::string>> tools = {
      {PGRESCUE_INSPECT}, {PGRESCUE_PLAN}, {PGRESCUE_CHECK}, {PGRESCUE_RESET, "-n"}};
  for (const auto& tool : tools) {
    auto plain = tool;
    plain.insert(plain.end(), {"-D", data_.string()});
    const auto reference = RunIn(scratch_.path(), plain);
    ASSERT_FALSE(reference.out.empty()) << tool[0] << ": " << reference.err;
    for (const std::string& form : std::vector<std::string>{data_.string() + "/", "data dir", "data dir/", "./data dir//"}) {
      auto argv = tool;
      argv.insert(argv.end(), {"-D", form});
      const auto run = RunIn(scratch_.path(), argv);
      EXPECT_EQ(run.exit_code, reference.exit_code) << tool[0] << " -D '" << form << "': " << run.err;
      EXPECT_FALSE(run.out.empty()) << tool[0] << " -D '" << form << "'";
      EXPECT_EQ(run.err.find("error"), std::string::npos) << tool[0] << " -D '" << form << "': " << run.err;
    }
  }
}

TEST_F(PathsCli, ARelativeResetIsUndoneByTheCommandItPrints) {
  const auto before = Files(data_);
  const auto reset = RunIn(scratch_.path(), {PGRESCUE_RESET, "--auto", "-f", "-D", "data dir/"});
  ASSERT_EQ(reset.exit_code, 0) << reset.out << reset.err;
  ASSERT_NE(Files(data_), before);
  const std::string prefix = "To put them back: ";
  const auto at = reset.out.find(prefix);
  ASSERT_NE(at, std::string::npos) << reset.out;
  const std::string command = reset.out.substr(at + prefix.size(), reset.out.find('\n', at) - at - prefix.size());
  EXPECT_NE(command.find("-D 'data dir/'"), std::string::npos) << command;
  // As a DBA would paste it: the shell finds pgrescue-reset on PATH.
  const auto undo = RunCommand({"/bin/sh", "-c", "cd '" + scratch_.path().string() + "' && " + command},
                               {"PATH=" + fs::path(PGRESCUE_RESET).parent_path().string() + ":/usr/bin:/bin"});
  EXPECT_EQ(undo.exit_code, 0) << command << "\n" << undo.out << undo.err;
  EXPECT_EQ(Files(data_), before);
}

}  // namespace
}  // namespace pgrescue
