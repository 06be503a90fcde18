// pgrescue-salvage's refusals, which come before anything is written: bad
// usage, a directory that is not a cluster, a server of another major,
// outputs inside the cluster or not empty, a symbolic link a copy's server
// could write through. Salvage runs themselves need real servers
// (tests/server/salvage_test.py).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/fixtures.h"
#include "tests/run_command.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;

const std::string kSalvage = PGRESCUE_SALVAGE;

class SalvageCli : public ::testing::Test {
 protected:
  testing::SampleClusterCopy copy_{"salvage-cli"};
  testing::ScratchDir out_{"salvage-cli-out"};
  std::string data() const { return copy_.path().string(); }
  std::string out(const std::string& name) const { return (out_.path() / name).string(); }
};

TEST_F(SalvageCli, OutIsRequired) {
  const auto r = RunCommand({kSalvage, data()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--out is required"), std::string::npos) << r.err;
}

TEST_F(SalvageCli, NotADataDirectory) {
  const auto r = RunCommand({kSalvage, "--out", out("o"), out_.path().string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no PG_VERSION: not a data directory"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out("o")));
}

TEST_F(SalvageCli, AServerOfAnotherMajorIsRefused) {
  // The sample cluster is 15; this directory's "postgres" says 14.
  const fs::path bin = out_.path() / "bin14";
  fs::create_directories(bin);
  std::ofstream(bin / "postgres") << "#!/bin/sh\necho 'postgres (PostgreSQL) 14.23'\n";
  fs::permissions(bin / "postgres", fs::perms::owner_all);
  const auto r = RunCommand({kSalvage, "--bindir", bin.string(), "--out", out("o"), data()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("postgres here is 14.23, but the cluster is 15"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out("o")));
}

TEST_F(SalvageCli, OutputsInsideTheClusterOrNotEmptyAreRefused) {
  const fs::path bin = out_.path() / "bin15";
  fs::create_directories(bin);
  for (const char* p : {"postgres", "pg_ctl"}) {
    std::ofstream(bin / p) << "#!/bin/sh\necho '" << p << " (PostgreSQL) 15.18'\n";
    fs::permissions(bin / p, fs::perms::owner_all);
  }
  auto inside = RunCommand({kSalvage, "--bindir", bin.string(), "--out", data() + "/salvage", data()});
  EXPECT_EQ(inside.exit_code, 2);
  EXPECT_NE(inside.err.find("lies inside the cluster's files"), std::string::npos) << inside.err;
  EXPECT_FALSE(fs::exists(data() + "/salvage"));
  auto reload = RunCommand({kSalvage, "--bindir", bin.string(), "--out", out("o"), "--reload", data(), data()});
  EXPECT_EQ(reload.exit_code, 2);
  EXPECT_NE(reload.err.find("lies inside the cluster's files"), std::string::npos) << reload.err;
  fs::create_directories(out("full"));
  std::ofstream(out("full") + "/x") << "x";
  auto full = RunCommand({kSalvage, "--bindir", bin.string(), "--out", out("full"), data()});
  EXPECT_EQ(full.exit_code, 2);
  EXPECT_NE(full.err.find("exists and is not empty"), std::string::npos) << full.err;
  // A link the copy's server would write through into the original.
  fs::create_directory_symlink(out_.path(), copy_.path() / "pg_stat_tmp_elsewhere");
  auto link = RunCommand({kSalvage, "--bindir", bin.string(), "--out", out("o"), data()});
  EXPECT_EQ(link.exit_code, 2);
  EXPECT_NE(link.err.find("pg_stat_tmp_elsewhere: is a symbolic link"), std::string::npos) << link.err;
  EXPECT_FALSE(fs::exists(out("o")));
}

}  // namespace
}  // namespace pgrescue
