// Every tool's --version (and -V), as PostgreSQL's programs print theirs,
// with the version project() sets in CMakeLists.txt.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/run_command.h"

namespace pgrescue {
namespace {

using testing::RunCommand;

TEST(VersionCli, EveryToolPrintsTheProjectVersion) {
  const std::vector<std::pair<std::string, std::string>> tools = {
      {"pgrescue-check", PGRESCUE_CHECK},     {"pgrescue-inspect", PGRESCUE_INSPECT},
      {"pgrescue-plan", PGRESCUE_PLAN},       {"pgrescue-reset", PGRESCUE_RESET},
      {"pgrescue-salvage", PGRESCUE_SALVAGE},
  };
  for (const auto& [name, path] : tools) {
    for (const std::string flag : {"--version", "-V"}) {
      const auto run = RunCommand({path, flag}, {});
      EXPECT_EQ(run.exit_code, 0) << name << " " << flag << ": " << run.err;
      EXPECT_EQ(run.out, name + " (pgrescue) " PGRESCUE_VERSION "\n") << name << " " << flag;
      EXPECT_EQ(run.err, "") << name << " " << flag;
    }
  }
}

}  // namespace
}  // namespace pgrescue
