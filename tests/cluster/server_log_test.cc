#include "libcontrol/cluster/server_log.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace pgrescue {
namespace {

// Debian 15's server, started by pg_ctl -l on a cluster whose pg_control was
// removed: the postmaster writes to stderr before its logging is set up.
constexpr std::string_view kNoControl =
    "postgres: could not find the database system\n"
    "Expected to find it in the directory \"/tmp/sm/d\",\n"
    "but could not open file \"/tmp/sm/d/global/pg_control\": No such file or directory\n";

TEST(ServerLog, LinesWithoutSeverityAreKeptWhole) {
  const auto m = ParseServerLog(kNoControl, LogFormat::kStderr);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].severity, "");
  EXPECT_EQ(m[0].text, "postgres: could not find the database system");
  EXPECT_EQ(m[2].line, 3u);
}

TEST(ServerLog, StderrWithAnyPrefixDetailHintAndContinuation) {
  // 15's default prefix "%m [%p] ", then a custom one with user and database.
  const std::string text =
      "2026-11-27 05:21:48.391 UTC [10351] LOG:  starting PostgreSQL 15.18 (Debian 15.18-0+deb12u1)\n"
      "2026-11-27 05:21:49.001 UTC [10354] PANIC:  could not locate a valid checkpoint record\n"
      "app@db [77] ERROR:  could not access status of transaction 3021\n"
      "app@db [77] DETAIL:  Could not open file \"pg_xact/0000\": No such file or directory.\n"
      "app@db [77] STATEMENT:  SELECT count(*)\n"
      "\tFROM t;\n"
      "x [1] HINT:  Is another postmaster (PID 4242) running in data directory \"/d\"?\n"
      "x [1] ERROR:  syntax error at or near \"LOG\"\n"
      "\tcontinued line\n";
  const auto m = ParseServerLog(text, LogFormat::kStderr);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].severity, "LOG");
  EXPECT_EQ(m[1].severity, "PANIC");
  EXPECT_EQ(m[1].text, "could not locate a valid checkpoint record");
  EXPECT_EQ(m[2].text, "could not access status of transaction 3021");
  EXPECT_EQ(m[2].detail, "Could not open file \"pg_xact/0000\": No such file or directory.");
  EXPECT_EQ(m[2].hint, "Is another postmaster (PID 4242) running in data directory \"/d\"?");
  EXPECT_EQ(m[3].text, "syntax error at or near \"LOG\"\ncontinued line");
}

TEST(ServerLog, CsvQuotedFieldsAndRecordsSpanningLines) {
  const std::string text =
      "2026-11-27 05:21:48.391 UTC,,,10351,,6566a1fc.285f,1,,2026-11-27 05:21:48 UTC,,0,LOG,00000,"
      "\"starting PostgreSQL 15.18\",,,,,,,,,\"\",\"postmaster\",,0\n"
      "2026-11-27 05:21:49.001 UTC,\"app\",\"db\",77,\"[local]\",6566a1fc.4d,3,\"SELECT\",2026-11-27 05:21:48 UTC,"
      "3/4,0,ERROR,XX000,\"could not access status of transaction 3021\",\"Could not open file \"\"pg_xact/0000\"\": "
      "No such file\nor directory.\",,,,,\"SELECT 1\",,,\"psql\",\"client backend\",,0\n";
  EXPECT_EQ(SniffLogFormat(text, "postgresql.log"), LogFormat::kCsv);
  const auto m = ParseServerLog(text, LogFormat::kCsv);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].severity, "LOG");
  EXPECT_EQ(m[1].severity, "ERROR");
  EXPECT_EQ(m[1].text, "could not access status of transaction 3021");
  EXPECT_EQ(m[1].detail, "Could not open file \"pg_xact/0000\": No such file\nor directory.");
  EXPECT_EQ(m[1].line, 2u);
}

TEST(ServerLog, JsonOneObjectALine) {
  const std::string text =
      "{\"timestamp\":\"2026-11-27 05:21:48.391 UTC\",\"pid\":10351,\"error_severity\":\"LOG\","
      "\"message\":\"starting PostgreSQL 15.18\"}\n"
      "{\"timestamp\":\"2026-11-27 05:21:49.001 UTC\",\"pid\":10354,\"error_severity\":\"PANIC\","
      "\"message\":\"could not locate a valid checkpoint record\"}\n"
      "not json\n";
  EXPECT_EQ(SniffLogFormat(text, "postgresql-2026.json"), LogFormat::kJson);
  EXPECT_EQ(SniffLogFormat(text, "x.log"), LogFormat::kJson);
  const auto m = ParseServerLog(text, LogFormat::kJson);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[1].severity, "PANIC");
  EXPECT_EQ(m[2].severity, "");
  // As the JSON parser reads a line: a byte-order mark, then blanks, may
  // come before the object.
  const auto marked = ParseServerLog("\xEF\xBB\xBF {\"error_severity\":\"FATAL\",\"message\":\"x\"}\n", LogFormat::kJson);
  ASSERT_EQ(marked.size(), 1u);
  EXPECT_EQ(marked[0].severity, "FATAL");
  EXPECT_EQ(marked[0].text, "x");
}

TEST(ServerLog, LastRunStartsAtTheLastStartOrAfterAShutdown) {
  auto msg = [](std::string sev, std::string text) { return LogMessage{sev, text, "", "", 0}; };
  const std::vector<LogMessage> all = {
      msg("LOG", "starting PostgreSQL 15.18"),
      msg("ERROR", "could not access status of transaction 3021"),
      msg("LOG", "database system is shut down"),
      msg("", "postgres: could not find the database system"),
  };
  auto last = LastServerRun(all);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].text, "postgres: could not find the database system");

  // Before 10 there is no "starting PostgreSQL": the startup process's first line starts the run.
  const std::vector<LogMessage> old = {
      msg("LOG", "database system was shut down at 2026-11-27 05:21:48 UTC"),
      msg("LOG", "database system is ready to accept connections"),
      msg("LOG", "database system was interrupted; last known up at 2026-11-27 05:22:00 UTC"),
      msg("PANIC", "could not locate a valid checkpoint record"),
  };
  last = LastServerRun(old);
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[1].severity, "PANIC");

  // From 10 on, "database system was ..." follows "starting PostgreSQL" and does not restart the run.
  const std::vector<LogMessage> v15 = {
      msg("LOG", "starting PostgreSQL 15.18"),
      msg("LOG", "database system was interrupted; last known up at 2026-11-27 05:22:00 UTC"),
      msg("PANIC", "could not locate a valid checkpoint record"),
  };
  EXPECT_EQ(LastServerRun(v15).size(), 3u);
}

TEST(ServerLog, PastedSymptomWithOrWithoutPrefix) {
  const auto log = SymptomLog({"PANIC: could not locate a valid checkpoint record",
                               "2026-11-21 17:25:46.100 UTC [99] FATAL:  lock file \"postmaster.pid\" already exists",
                               "could not access status of transaction 3021"});
  ASSERT_EQ(log.messages.size(), 3u);
  EXPECT_EQ(log.source, "--symptom");
  EXPECT_EQ(log.messages[0].severity, "PANIC");
  EXPECT_EQ(log.messages[0].text, "could not locate a valid checkpoint record");
  EXPECT_EQ(log.messages[1].severity, "FATAL");
  EXPECT_EQ(log.messages[2].severity, "");
  EXPECT_EQ(log.messages[2].text, "could not access status of transaction 3021");
}

TEST(ServerLog, FindsTheCollectorsFilesNewestFirst) {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("pgrescue-logs-" + std::to_string(getpid()));
  fs::create_directories(root / "pglogs");
  fs::create_directories(root / "log");
  for (const char* name : {"pglogs/server-2026-11-20.log", "pglogs/server-2026-11-21.csv", "pglogs/other.txt",
                           "log/postgresql-2026-11-27_052148.log"}) {
    std::ofstream(root / name) << "x\n";
  }
  const auto older = fs::file_time_type::clock::now() - std::chrono::hours(24);
  fs::last_write_time(root / "pglogs/server-2026-11-20.log", older);
  DataDir dir;
  dir.root = root.string();
  dir.pg_version = "15";
  EXPECT_EQ(FindServerLogs(dir), std::vector<std::string>{(root / "log/postgresql-2026-11-27_052148.log").string()});
  dir.settings["log_directory"] = (root / "pglogs").string();
  dir.settings["log_filename"] = "server-%Y-%m-%d.log";
  EXPECT_EQ(FindServerLogs(dir), (std::vector<std::string>{(root / "pglogs/server-2026-11-21.csv").string(),
                                                          (root / "pglogs/server-2026-11-20.log").string()}));
  EXPECT_FALSE(ReadServerLog((root / "pglogs").string()).ok()) << "a directory is refused, not read as empty";
  EXPECT_FALSE(ReadServerLog((root / "nope.log").string()).ok());
  const auto read = ReadServerLog((root / "pglogs/server-2026-11-21.csv").string());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->format, LogFormat::kCsv);
  fs::remove_all(root);
}

}  // namespace
}  // namespace pgrescue
