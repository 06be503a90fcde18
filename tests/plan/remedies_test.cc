// The ranking of remedies and the backup judgement, on their own: the cases
// the real-server safety test reproduces, reduced to their facts.
#include <gtest/gtest.h>

#include "libcontrol/cluster/backup.h"
#include "libcontrol/plan/remedies.h"

namespace pgrescue {
namespace {

std::vector<std::string> Codes(const std::vector<Remedy>& remedies) {
  std::vector<std::string> out;
  for (const auto& r : remedies) out.push_back(r.code);
  return out;
}

RemedyFacts Crashed() {
  RemedyFacts f;
  f.data_dir = "/pg/it's";
  f.control_checkpoint = Lsn{0x3000060};
  f.wal_end = Lsn{0x5000000};
  f.wal_end_reason = "end of WAL";
  f.reset_command = "pgrescue-reset -f -x 1048576 -D '/pg/it'\\''s'";
  return f;
}

TEST(Remedies, CrashRecoveryThatWorksIsTheOnlyRemedy) {
  RemedyFacts f = Crashed();
  f.crash_recovery_works = true;
  f.stale_pid_file = true;
  const auto r = RankRemedies(f);
  ASSERT_EQ(Codes(r), std::vector<std::string>{"start-server"});
  EXPECT_EQ(r[0].loses, "nothing");
  EXPECT_EQ(r[0].commands, std::vector<std::string>{"pg_ctl -D '/pg/it'\\''s' start"});
}

TEST(Remedies, SomethingStillUsingTheDirectoryComesFirst) {
  RemedyFacts f = Crashed();
  f.crash_recovery_works = true;
  f.users = {"PID 42 (postgres: idle): working directory is the data directory"};
  const auto r = RankRemedies(f);
  EXPECT_EQ(Codes(r), (std::vector<std::string>{"wait", "start-server"}));
  EXPECT_TRUE(r[0].commands.empty());
  EXPECT_EQ(r[0].reasons.front(), f.users.front());
}

TEST(Remedies, PagesPastTheEndOfWalRuleOutRecovery) {
  RemedyFacts f = Crashed();
  f.crash_recovery_works = true;
  f.from_wal_checkpoint = Lsn{0x2000060};
  f.max_page_lsn = Lsn{0xCF72708};
  f.max_page_where = "base/16384/16397 block 12";
  const auto r = RankRemedies(f);
  ASSERT_EQ(Codes(r), std::vector<std::string>{"reset"});
  EXPECT_NE(r[0].reasons[1].find("0/CF72708 (base/16384/16397 block 12)"), std::string::npos) << r[0].reasons[1];
}

TEST(Remedies, ABackupNeverGetsFromWalPastItsStart) {
  RemedyFacts f = Crashed();
  f.backup_recovering = true;
  f.backup_start = Lsn{0x2000060};
  f.backup_wal_readable = true;
  f.skipped_newer_checkpoint = Lsn{0x4000028};
  f.signal_files = {"recovery.signal"};
  auto r = RankRemedies(f);
  ASSERT_EQ(Codes(r), std::vector<std::string>{"recover-backup"});
  EXPECT_EQ(r[0].commands, (std::vector<std::string>{"rm '/pg/it'\\''s/recovery.signal'", "pg_ctl -D '/pg/it'\\''s' start"}));
  // A non-exclusive backup needs its end-of-backup record: archive recovery stays.
  f.backup_end_record_required = true;
  r = RankRemedies(f);
  EXPECT_EQ(r[0].commands, std::vector<std::string>{"pg_ctl -D '/pg/it'\\''s' start"});
  // Without the WAL from the backup's start: fetch it, or as a last resort reset.
  f.backup_wal_readable = false;
  f.backup_start_segment = "000000010000000000000002";
  r = RankRemedies(f);
  EXPECT_EQ(Codes(r), (std::vector<std::string>{"recover-backup", "reset"}));
  EXPECT_NE(r[0].summary.find("000000010000000000000002"), std::string::npos);
}

// A canceled exclusive backup proved consistent at the primary's shutdown
// (values from the real-server repro on 13: tests/server/finish_backup_test.py):
// the copy's own archive recovery, told where the backup ends, is the only
// remedy; crash recovery would read only the copy's pg_wal.
TEST(Remedies, AProvedBackupEndIsFinishedNotRecoveredFromPgWal) {
  RemedyFacts f = Crashed();
  f.backup_recovering = true;
  f.backup_start = Lsn{0x2000060};
  f.backup_wal_readable = true;
  f.signal_files = {"recovery.signal"};
  f.wal_archives = {"/mnt/wal archive"};
  f.backup_end_point = Lsn{0x300009A};
  f.backup_end_evidence = {"the primary shut down: shutdown checkpoint at 0/3000028"};
  const auto r = RankRemedies(f);
  ASSERT_EQ(Codes(r), std::vector<std::string>{"finish-backup"});
  EXPECT_EQ(r[0].commands, (std::vector<std::string>{
                               "pgrescue-reset --finish-backup --wal-archive '/mnt/wal archive' -D '/pg/it'\\''s'",
                               "pg_ctl -D '/pg/it'\\''s' start"}));
  EXPECT_TRUE(r[0].loses.starts_with("nothing"));
  EXPECT_NE(r[0].summary.find("0/300009A"), std::string::npos) << r[0].summary;
  EXPECT_EQ(r[0].reasons.front(), f.backup_end_evidence.front());
}

// Values as the real-server wraparound test on 13 produces them
// (tests/server/symptoms_test.py): the server was shut down cleanly.
TEST(Remedies, WraparoundIsVacuumedInSingleUserModeNeverReset) {
  RemedyFacts f = Crashed();
  f.crash_recovery_works = true;
  f.shut_down_cleanly = true;
  f.xid_wrap_near = "pg_control: next XID 2146983588 is 2146983087 past the oldest unfrozen XID 501";
  f.databases = {"template1", "template0", "it's"};
  const auto r = RankRemedies(f);
  ASSERT_EQ(Codes(r), (std::vector<std::string>{"vacuum", "start-server"}));
  // A cluster that cannot start cannot be vacuumed either: recovery first.
  RemedyFacts broken = f;
  broken.crash_recovery_works = false;
  broken.from_wal_checkpoint = Lsn{0x2000060};
  EXPECT_EQ(Codes(RankRemedies(broken)), std::vector<std::string>{"from-wal"});
  EXPECT_EQ(r[0].commands, (std::vector<std::string>{"echo VACUUM | postgres --single -D '/pg/it'\\''s' 'template1'",
                                                     "echo VACUUM | postgres --single -D '/pg/it'\\''s' 'template0'",
                                                     "echo VACUUM | postgres --single -D '/pg/it'\\''s' 'it'\\''s'",
                                                     "pg_ctl -D '/pg/it'\\''s' start"}));
  EXPECT_EQ(r[0].reasons.front(), *f.xid_wrap_near);
}

// The crashed primary of tests/server/finish_backup_test.py: backup_label's
// WAL recycled, pg_control's own checkpoint readable to the end.
TEST(Remedies, APrimaryThatCrashedInABackupMovesItsLabelAsideBeforeAnyReset) {
  RemedyFacts f = Crashed();
  f.backup_recovering = true;
  f.backup_start = Lsn{0x2000060};
  f.backup_wal_readable = false;
  f.backup_start_segment = "000000010000000000000002";
  f.crashed_primary = true;
  f.crashed_primary_evidence = {"backup_label: an exclusive backup (pg_start_backup) started at 0/2000028"};
  auto r = RankRemedies(f);
  ASSERT_EQ(Codes(r), std::vector<std::string>{"restart-primary"});
  EXPECT_EQ(r[0].commands, (std::vector<std::string>{
                               "mv '/pg/it'\\''s/backup_label' '/pg/it'\\''s/backup_label.pgrescue-saved'",
                               "pg_ctl -D '/pg/it'\\''s' start"}));
  EXPECT_TRUE(r[0].loses.starts_with("nothing")) << r[0].loses;
  // While the label's WAL is there the server starts by itself: nothing is moved.
  f.backup_wal_readable = true;
  r = RankRemedies(f);
  EXPECT_EQ(Codes(r), std::vector<std::string>{"recover-backup"});
}

// pg_basebackup killed part-way (tests/server/finish_backup_test.py): no
// recovery, rebuild or reset can bring back files the copy never received.
TEST(Remedies, AnUnfinishedCopyOnlyGetsANewBackup) {
  RemedyFacts f = Crashed();
  f.backup_recovering = true;
  f.backup_start = Lsn{0x3000060};
  f.backup_wal_readable = true;
  f.control_rebuild_needed = true;
  f.from_wal_checkpoint = Lsn{0x3000060};
  f.copy_unfinished = true;
  const auto r = RankRemedies(f);
  ASSERT_EQ(Codes(r), std::vector<std::string>{"new-backup"});
  EXPECT_TRUE(r[0].commands.empty());
}

// A standby whose primary removed the WAL it needs (tests/server/symptoms_test.py):
// removing standby.signal would promote it, so no remedy does.
TEST(Remedies, AStandbyStaysAStandby) {
  RemedyFacts f = Crashed();
  f.backup_recovering = true;
  f.backup_start = Lsn{0x3000060};
  f.backup_wal_readable = true;
  f.signal_files = {"standby.signal"};
  f.standby = true;
  const auto r = RankRemedies(f);
  ASSERT_EQ(Codes(r), std::vector<std::string>{"resume-standby"});
  EXPECT_EQ(r[0].commands, std::vector<std::string>{"pg_ctl -D '/pg/it'\\''s' start"});
}

TEST(Remedies, LostXactComesBeforeTheReset) {
  RemedyFacts f = Crashed();
  f.xact_missing = "pg_xact no longer covers the transactions in use";
  f.control_rebuild_needed = true;
  f.from_wal_checkpoint = Lsn{0x2000060};
  // Commit status first: nothing may start while rows need it.
  EXPECT_EQ(Codes(RankRemedies(f)), (std::vector<std::string>{"restore-xact", "from-wal"}));
  EXPECT_EQ(RankRemedies(f)[1].commands.front(), "pgrescue-reset --rebuild --from-wal -D '/pg/it'\\''s'");
  f.from_wal_checkpoint.reset();
  EXPECT_EQ(Codes(RankRemedies(f)), (std::vector<std::string>{"restore-xact", "reset"}));
  // A rebuild that decides every XID loses nothing and leads; one with
  // unknowns follows the backup and offers its dry run.
  f.xact_rebuild = RemedyFacts::XactRebuildFacts{12, 0, 0, 0, "wal 10, hint_bits 2", ""};
  auto r = RankRemedies(f);
  EXPECT_EQ(Codes(r), (std::vector<std::string>{"rebuild-xact", "restore-xact", "reset"}));
  EXPECT_EQ(r[0].loses, "nothing: 12 of the 12 XID(s) rows depend on are decided (wal 10, hint_bits 2)");
  EXPECT_EQ(r[0].commands, std::vector<std::string>{"pgrescue-reset --rebuild-xact -D '/pg/it'\\''s'"});
  f.xact_rebuild = RemedyFacts::XactRebuildFacts{12, 3, 1, 2, "hint_bits 9", ""};
  r = RankRemedies(f);
  EXPECT_EQ(Codes(r), (std::vector<std::string>{"restore-xact", "rebuild-xact", "reset"}));
  EXPECT_NE(r[1].loses.find("3 XID(s) no evidence decides (1 with contradicting evidence), in 2 relation(s)"),
            std::string::npos) << r[1].loses;
  EXPECT_EQ(r[1].commands, std::vector<std::string>{"pgrescue-reset --rebuild-xact -n -D '/pg/it'\\''s'"});
}

// The lines the server writes into backup_label (15, non-exclusive).
TEST(BackupLabel, ParsesWhatTheServerWrites) {
  const auto label = ParseBackupLabel(
      "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
      "CHECKPOINT LOCATION: 0/2000060\n"
      "BACKUP METHOD: streamed\n"
      "BACKUP FROM: primary\n"
      "START TIME: 2026-11-26 14:00:00 UTC\n"
      "LABEL: nightly\n"
      "START TIMELINE: 1\n");
  ASSERT_TRUE(label);
  EXPECT_EQ(label->start, Lsn{0x2000028});
  EXPECT_EQ(label->checkpoint, Lsn{0x2000060});
  EXPECT_EQ(label->method, "streamed");
  EXPECT_EQ(label->label, "nightly");
  EXPECT_EQ(label->timeline, 1u);
  EXPECT_FALSE(ParseBackupLabel("START WAL LOCATION: 0/1703EF0\n"));
  EXPECT_FALSE(ParseBackupLabel("START WAL LOCATION: zz\nCHECKPOINT LOCATION: 0/1\n"));
}

}  // namespace
}  // namespace pgrescue
