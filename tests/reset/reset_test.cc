// pgrescue-reset against the versions' own pg_resetwal -n output, and what a
// reset writes, on copies of the fixture clusters.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "libcontrol/control/control_file.h"
#include "libcontrol/reset/rescue.h"
#include "libcontrol/reset/reset.h"
#include "libcontrol/base/wal_names.h"
#include "libcontrol/wal/wal_record.h"
#include "tests/fixtures.h"
#include "tests/run_command.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;
using testing::FixturesDir;
using testing::ReadText;
using testing::RunCommand;

const std::string kReset = PGRESCUE_RESET;

// A data directory as far as the fixtures go: PG_VERSION, the shut-down
// pg_control, and the files of listing.txt (sizes real, contents zero).
fs::path MakeCluster(const std::string& version) {
  const fs::path root = fs::temp_directory_path() /
                        ("pgrescue-reset-" + version + "-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::remove_all(root.string() + ".pgrescue");
  fs::create_directories(root / "global");
  fs::copy_file(FixturesDir() / version / "PG_VERSION", root / "PG_VERSION");
  fs::copy_file(FixturesDir() / version / "pg_control.shutdown", root / "global/pg_control");
  std::ifstream listing(FixturesDir() / version / "listing.txt");
  std::string path;
  uint64_t size;
  while (listing >> path >> size) {
    fs::create_directories((root / path).parent_path());
    std::ofstream(root / path).close();
    fs::resize_file(root / path, size);
  }
  return root;
}

std::map<std::string, std::string> Hashes(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = *Sha256OfFile(e.path().string());
  }
  return out;
}

class ResetFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(ResetFixture, DryRunEqualsTheVersionsOwnPgResetwal) {
  const fs::path root = MakeCluster(GetParam());
  const auto before = Hashes(root);
  const auto run = RunCommand({kReset, "-n", "-D", root.string()}, {"TZ=UTC"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, *ReadText(FixturesDir() / GetParam() / "pg_resetwal-n.shutdown.txt"));
  EXPECT_EQ(Hashes(root), before);
  EXPECT_FALSE(fs::exists(root.string() + ".pgrescue"));
  fs::remove_all(root);
}

TEST_P(ResetFixture, ResetWritesWhatTheDryRunAnnouncedAndUndoRestoresIt) {
  const fs::path root = MakeCluster(GetParam());
  const auto before = Hashes(root);
  const auto run = RunCommand({kReset, "-D", root.string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // pg_resetwal -n announced 000000010000000000000002 for every fixture.
  const auto read = ReadControlFile((root / "global/pg_control").string());
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->crc_ok());
  const auto& c = read->control;
  const uint64_t seg = c.value(Field::kWalSegmentSize);
  EXPECT_EQ(c.value(Field::kRedo), 2 * seg + kWalLongPageHeaderSize);
  EXPECT_EQ(c.value(Field::kCheckPoint), c.value(Field::kRedo));
  EXPECT_EQ(c.value(Field::kState), static_cast<uint64_t>(DbState::kShutdowned));
  const auto old = ParseControlFile(testing::ReadBytes(FixturesDir() / GetParam() / "pg_control.shutdown"));
  for (Field f : {Field::kSystemIdentifier, Field::kNextXid, Field::kNextOid, Field::kNextMulti,
                  Field::kNextMultiOffset, Field::kOldestXid, Field::kThisTimeLineId}) {
    EXPECT_EQ(c.value(f), old->control.value(f)) << FieldName(f);
  }
  const fs::path wal = root / std::string(c.layout().wal_dir());
  const fs::path segment = wal / "000000010000000000000002";
  ASSERT_TRUE(fs::exists(segment));
  EXPECT_EQ(fs::file_size(segment), seg);
  EXPECT_FALSE(fs::exists(wal / "000000010000000000000001"));
  // The checkpoint record holds the new pg_control's checkpoint copy and its
  // CRC verifies.
  const auto bytes = testing::ReadBytes(segment);
  const auto control_bytes = testing::ReadBytes(root / "global/pg_control");
  const auto& l = c.layout();
  const bool legacy = l.crc_kind() == CrcKind::kLegacyCrc32;
  const size_t body = kWalLongPageHeaderSize + (legacy ? 32 : 26);
  EXPECT_TRUE(std::equal(control_bytes.begin() + l.checkpoint_offset(),
                         control_bytes.begin() + l.checkpoint_offset() + l.checkpoint_size(), bytes.begin() + body));
  const size_t length = bytes[40] | bytes[41] << 8;
  const std::span<const uint8_t> record(bytes.data() + 40, length);
  const size_t crc_at = 40 + (legacy ? 24 : 20);
  const uint32_t stored = bytes[crc_at] | bytes[crc_at + 1] << 8 | bytes[crc_at + 2] << 16 |
                          static_cast<uint32_t>(bytes[crc_at + 3]) << 24;
  EXPECT_EQ(WalRecordCrc(l.crc_kind(), record), stored);

  const auto undo = RunCommand({kReset, "--undo", "-D", root.string()});
  EXPECT_EQ(undo.exit_code, 0) << undo.err;
  EXPECT_EQ(Hashes(root), before);
  fs::remove_all(root);
  fs::remove_all(root.string() + ".pgrescue");
}

INSTANTIATE_TEST_SUITE_P(GoldenVersions, ResetFixture, ::testing::Values("pg94", "pg95", "pg96", "pg15", "pg19"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(ResetRescue, AcrossFilesystemsCopiesVerifiesAndUndoes) {
  // /dev/shm is a tmpfs, so moves from /tmp into it cross filesystems and take
  // the copy, fsync, verify, remove path.
  const fs::path root = MakeCluster("pg15");
  const fs::path rescue = fs::path("/dev/shm") / ("pgrescue-rescue-" + std::to_string(getpid()));
  struct stat a {}, b {};
  ASSERT_EQ(stat(root.c_str(), &a), 0);
  ASSERT_EQ(stat("/dev/shm", &b), 0);
  ASSERT_NE(a.st_dev, b.st_dev) << "/dev/shm must be another filesystem than " << root;
  const auto before = Hashes(root);
  const auto run = RunCommand({kReset, "--rescue-dir", rescue.string(), "-D", root.string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(fs::exists(rescue / "files/pg_wal/000000010000000000000001"));
  EXPECT_EQ(*Sha256OfFile((rescue / "files/global/pg_control").string()),
            before.at("global/pg_control"));
  const auto undo = RunCommand({kReset, "--undo", rescue.string(), "-D", root.string()});
  EXPECT_EQ(undo.exit_code, 0) << undo.err;
  EXPECT_EQ(Hashes(root), before);
  EXPECT_FALSE(fs::exists(rescue / "files/global/pg_control"));
  fs::remove_all(rescue);
  fs::remove_all(root);
}

TEST(ResetCli, RefusalsAndBadInput) {
  const fs::path root = MakeCluster("pg15");
  const auto before = Hashes(root);
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string in_err;
  };
  fs::copy_file(FixturesDir() / "pg15/pg_control.running", root / "global/pg_control",
                fs::copy_options::overwrite_existing);
  const auto running = Hashes(root);
  const std::vector<Case> cases = {
      {{kReset, "-D", root.string()}, 1, "not shut down cleanly"},
      {{kReset, "-x", "2", "-D", root.string()}, 2, "greater than or equal to 3"},
      {{kReset, "-x", "12abc", "-D", root.string()}, 2, "invalid argument for option -x"},
      {{kReset, "-m", "5", "-D", root.string()}, 2, "next,oldest"},
      {{kReset, "-m", "5,0", "-D", root.string()}, 2, "must not be 0"},
      {{kReset, "-O", "4294967296", "-D", root.string()}, 2, "between 0 and 4294967295"},
      {{kReset, "-e", "4294967295", "-D", root.string()}, 2, "must not be -1"},
      {{kReset, "-c", "1,0", "-D", root.string()}, 2, "greater than or equal to 2"},
      {{kReset, "-o", "0", "-D", root.string()}, 2, "must not be 0"},
      {{kReset, "-l", "00000001000000000000000", "-D", root.string()}, 2, "24"},
      {{kReset, "--wal-segsize", "3", "-D", root.string()}, 2, "power of two"},
      {{kReset, "--char-signedness", "signed", "-D", root.string()}, 2, "has no --char-signedness"},
      {{kReset, "-D", "/nonexistent/pgdata"}, 2, "does not exist"},
      {{kReset}, 2, "no data directory"},
  };
  for (const auto& c : cases) {
    const auto run = RunCommand(c.args, {"-PGDATA"});
    EXPECT_EQ(run.exit_code, c.exit_code) << c.args[1] << ": " << run.err;
    EXPECT_NE(run.err.find(c.in_err), std::string::npos) << c.args[1] << ": " << run.err;
    EXPECT_EQ(Hashes(root), running);
  }
  std::ofstream(root / "postmaster.pid") << getpid() << "\n";
  auto live = RunCommand({kReset, "-f", "-D", root.string()});
  EXPECT_EQ(live.exit_code, 1);
  EXPECT_NE(live.err.find("a server is running"), std::string::npos) << live.err;
  std::ofstream(root / "postmaster.pid") << 0x3FFFFFFF << "\n";
  auto stale = RunCommand({kReset, "-f", "-D", root.string()});
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_NE(stale.err.find("not running"), std::string::npos) << stale.err;
  EXPECT_FALSE(fs::exists(root.string() + ".pgrescue"));
  fs::remove_all(root);
  (void)before;
}

// Exit 4 keeps exit 2's promise: a write that fails after files were moved
// into the rescue folder says so, with the undo command, shell-quoted; run,
// it puts every byte back. A leftover temporary name is such a failure.
TEST(ResetCli, AFailureAfterKeepingExits4AndNamesTheUndoCommand) {
  const fs::path root = MakeCluster("pg15");
  fs::path quoted = root;
  quoted += "-it's";
  fs::remove_all(quoted);
  fs::remove_all(quoted.string() + ".pgrescue");
  fs::rename(root, quoted);
  std::ofstream(quoted / "pg_wal/000000010000000000000002.pgrescue-tmp") << "left by an earlier run";
  const auto before = Hashes(quoted);
  const std::string rescue = quoted.string() + ".pgrescue/failed";
  const auto run = RunCommand({kReset, "--rescue-dir", rescue, "-D", quoted.string()});
  EXPECT_EQ(run.exit_code, 4) << run.err;
  EXPECT_NE(run.err.find("000000010000000000000002.pgrescue-tmp"), std::string::npos) << run.err;
  const std::string undo_command = "pgrescue-reset --undo '" + rescue.substr(0, rescue.find("it's")) + "it'\\''s" +
                                   rescue.substr(rescue.find("it's") + 4) + "' -D '" + root.string() + "-it'\\''s'";
  EXPECT_NE(run.err.find(undo_command), std::string::npos) << undo_command << "\n" << run.err;
  EXPECT_FALSE(fs::exists(quoted / "pg_wal/000000010000000000000001")) << "kept before the write failed";
  const auto undo = RunCommand({kReset, "--undo", rescue, "-D", quoted.string()});
  EXPECT_EQ(undo.exit_code, 0) << undo.err;
  EXPECT_EQ(Hashes(quoted), before);
  fs::remove_all(quoted);
  fs::remove_all(quoted.string() + ".pgrescue");
}

// --from-wal on the sample cluster, whose WAL holds a newer shutdown
// checkpoint (0/1703F68) than its pg_control points at (0/1703EF0).
TEST(ResetCli, FromWalPointsAtTheNewestCheckpointAndUndoes) {
  const fs::path root = fs::temp_directory_path() / ("pgrescue-fromwal-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::remove_all(root.string() + ".pgrescue");
  fs::copy(FixturesDir() / "sample-cluster", root, fs::copy_options::recursive);
  const auto before = Hashes(root);
  const std::string d = root.string();
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string in_err;
  };
  const std::vector<Case> cases = {
      {{kReset, "--checkpoint", "0/1703EF0", "-D", d}, 2, "--checkpoint goes with --from-wal"},
      {{kReset, "--from-wal", "--auto", "-D", d}, 2, "does not go with --auto"},
      {{kReset, "--from-wal", "-x", "5000", "-D", d}, 2, "does not go with --auto"},
      {{kReset, "--from-wal", "--checkpoint", "zz", "-D", d}, 2, "invalid argument for option --checkpoint"},
      {{kReset, "--from-wal", "--checkpoint", "0/1703EF8", "-D", d}, 2, "no checkpoint record at 0/1703EF8"},
  };
  for (const auto& c : cases) {
    const auto run = RunCommand(c.args);
    EXPECT_EQ(run.exit_code, c.exit_code) << c.args[1] << ": " << run.err;
    EXPECT_NE(run.err.find(c.in_err), std::string::npos) << c.args[1] << ": " << run.err;
  }
  auto dry = RunCommand({kReset, "-n", "--from-wal", "-D", d});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("Checkpoint to start from: 0/1703F68 (shutdown"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("checkpoint.checkpoint_lsn: \"0/1703EF0\" -> \"0/1703F68\""), std::string::npos) << dry.out;
  std::ofstream(root / "backup_label") << "START WAL LOCATION: 0/1703EF0\n";
  auto refused = RunCommand({kReset, "--from-wal", "-D", d});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("backup_label exists"), std::string::npos) << refused.err;
  fs::remove(root / "backup_label");
  EXPECT_EQ(Hashes(root), before) << "refusals and -n write nothing";

  // An older checkpoint by choice; then the newest.
  auto older = RunCommand({kReset, "--from-wal", "--checkpoint", "0/1703EF0", "-D", d});
  EXPECT_EQ(older.exit_code, 0) << older.err;
  EXPECT_NE(older.out.find("already points at this checkpoint"), std::string::npos) << older.out;
  auto run = RunCommand({kReset, "--from-wal", "-D", d});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto now = ReadControlFile(d + "/global/pg_control");
  ASSERT_TRUE(now);
  EXPECT_TRUE(now->crc_ok());
  EXPECT_EQ(now->control.value(Field::kCheckPoint), 0x1703F68u);
  EXPECT_EQ(now->control.value(Field::kRedo), 0x1703F68u);
  EXPECT_EQ(now->control.value(Field::kState), static_cast<uint64_t>(DbState::kShutdowned))
      << "nothing follows the shutdown checkpoint";
  EXPECT_EQ(Hashes(root).size(), before.size()) << "no WAL removed";
  auto undo = RunCommand({kReset, "--undo", "-D", d});
  EXPECT_EQ(undo.exit_code, 0) << undo.err;
  EXPECT_EQ(Hashes(root), before);
  fs::remove_all(root);
  fs::remove_all(root.string() + ".pgrescue");
}

// --rebuild-xact on the sample cluster with pg_xact/0000 deleted: WAL from
// initdb's first checkpoint on is all there, so every transaction in it is
// decided by its record (3,724 XIDs: the distinct transactions and
// subtransactions pg_waldump 15 lists in that segment's 724 commit and abort
// records), -n writes nothing, the real run writes the
// one segment, and --undo takes it away again. Bad combinations exit 2.
TEST(ResetCli, RebuildXactFromWalAndUndo) {
  const fs::path root = fs::temp_directory_path() / ("pgrescue-rebuildxact-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::remove_all(root.string() + ".pgrescue");
  fs::copy(FixturesDir() / "sample-cluster", root, fs::copy_options::recursive);
  fs::remove(root / "pg_xact/0000");
  const auto before = Hashes(root);
  const std::string d = root.string();
  for (const auto& [args, in_err] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{kReset, "--rebuild-xact", "--unknown", "maybe", "-D", d}, "--unknown"},
           {{kReset, "--unknown", "aborted", "-D", d}, "go with --rebuild-xact"},
           {{kReset, "--rebuild-xact", "--from-wal", "-D", d}, "goes alone"},
           {{kReset, "--rebuild-xact", "-x", "1000", "-D", d}, "goes alone"}}) {
    const auto run = RunCommand(args);
    EXPECT_EQ(run.exit_code, 2) << args[1] << ": " << run.err;
    EXPECT_NE(run.err.find(in_err), std::string::npos) << run.err;
  }
  const auto dry = RunCommand({kReset, "--rebuild-xact", "-n", "--json", "-D", d});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  const auto j = nlohmann::json::parse(dry.out);
  EXPECT_EQ(j["segments"].size(), 1u);
  EXPECT_EQ(j["segments"][0]["name"], "0000");
  EXPECT_EQ(j["segments"][0]["state"], "missing");
  EXPECT_EQ(j["decided_by"]["wal"], 3724);
  EXPECT_TRUE(j["unknown_xids"].empty());
  EXPECT_EQ(j["written"], false);
  EXPECT_EQ(Hashes(root), before);

  const auto real = RunCommand({kReset, "--rebuild-xact", "-D", d});
  ASSERT_EQ(real.exit_code, 0) << real.err;
  EXPECT_EQ(fs::file_size(root / "pg_xact/0000"), 8192u);
  // The undo command it prints, run as printed: the rescue folder is the
  // only one under <datadir>.pgrescue/.
  std::string rescue;
  for (const auto& e : fs::directory_iterator(d + ".pgrescue")) rescue = e.path().string();
  const std::string printed = "To put them back: pgrescue-reset --undo '" + rescue + "' -D '" + d + "'\n";
  ASSERT_NE(real.out.find(printed), std::string::npos) << printed << real.out;
  const auto again = RunCommand({kReset, "--rebuild-xact", "-D", d});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("nothing to rebuild"), std::string::npos) << again.err;
  const auto undo = RunCommand({kReset, "--undo", rescue, "-D", d});
  EXPECT_EQ(undo.exit_code, 0) << undo.err;
  EXPECT_EQ(Hashes(root), before);
  fs::remove_all(root);
  fs::remove_all(root.string() + ".pgrescue");
}

}  // namespace
}  // namespace pgrescue
