// The parsers of PostgreSQL's programs' output, on output captured from real
// runs (fixtures/salvage/README.md) and version lines as the npm and Debian
// builds print them.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "libcontrol/pages/heap_check.h"
#include "libcontrol/salvage/binaries.h"
#include "libcontrol/salvage/process.h"
#include "libcontrol/salvage/row_count.h"
#include "libcontrol/salvage/table_copy.h"
#include "libcontrol/salvage/tool_output.h"

namespace pgrescue {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(PGRESCUE_FIXTURES_DIR) + "/salvage/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(ToolOutput, VersionLines) {
  auto debian = ParseVersionLine("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n");
  ASSERT_TRUE(debian);
  EXPECT_EQ(debian->version, "15.18");
  EXPECT_EQ(debian->major, "15");
  auto npm = ParseVersionLine("postgres (PostgreSQL) 18.4");
  ASSERT_TRUE(npm);
  EXPECT_EQ(npm->major, "18");
  auto old = ParseVersionLine("postgres (PostgreSQL) 9.6.24");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->version, "9.6.24");
  EXPECT_EQ(old->major, "9.6");
  EXPECT_FALSE(ParseVersionLine("postgres (PostgreSQL) 9"));  // a 9.x major needs its second number
  EXPECT_FALSE(ParseVersionLine("bash: pg_dump: command not found"));
  // Found by the fuzzer: a major of 0 (no release has one) orders below every real one.
  EXPECT_FALSE(ParseVersionLine("pd(PostgreSQL) 0.0.2) 1.5.23915123139151231"));
  EXPECT_EQ(MajorNumber("9.6"), 906);
  EXPECT_EQ(MajorNumber("15"), 1500);
}

TEST(ToolOutput, TablesPgDumpCouldNotReadNamesEachFailedTable) {
  // Each failure gives its name twice: bare in "Dumping the contents" and
  // qualified in the statement.
  const std::set<TableKey> want = {{"", "a"}, {"public", "a"}, {"", "b"}, {"public", "b"}};
  EXPECT_EQ(TablesPgDumpCouldNotRead(Fixture("pg_dump_15_page_failed.txt")), want);
  // A crashed server process leaves only the statement.
  const std::set<TableKey> crashed = {{"public", "c"}};
  EXPECT_EQ(TablesPgDumpCouldNotRead(Fixture("pg_dump_15_server_crashed.txt")), crashed);
  // pg_dump's fmtId quotes names that need it, doubling quotes.
  const std::set<TableKey> quoted = {{"Odd.Schema", "My \"T\""}};
  EXPECT_EQ(TablesPgDumpCouldNotRead("pg_dump: detail: Query was: COPY \"Odd.Schema\".\"My \"\"T\"\"\" (id) TO stdout;"),
            quoted);
  EXPECT_TRUE(TablesPgDumpCouldNotRead("pg_dump: error: a worker process died unexpectedly").empty());
}

TEST(ToolOutput, TheServerLogNamesTheStatementThatCrashed) {
  const std::string log = Fixture("server_15_crashed.log");
  const std::set<TableKey> want = {{"public", "c"}};
  EXPECT_EQ(TablesServerCrashedOn(log), want);
  EXPECT_TRUE(ServerCrashed(log));
  EXPECT_FALSE(ServerCrashed("LOG:  database system is ready to accept connections\n"));
}

TEST(ToolOutput, ACrashIsKnownBeforeTheOtherProcessesHaveGone) {
  // A client of another process sees its session end when the postmaster
  // signals it: the log then ends at "terminating any other active server
  // processes", and the crash must already count.
  for (const char* name : {"server_15_crashed.log", "server_18_crashed.log"}) {
    const std::string log = Fixture(name);
    const size_t signalled = log.find("terminating any other active server processes\n");
    ASSERT_NE(signalled, std::string::npos) << name;
    const std::string_view before_restart(log.data(), log.find('\n', signalled) + 1);
    EXPECT_EQ(before_restart.find("reinitializing"), std::string_view::npos) << name;
    EXPECT_TRUE(ServerCrashed(before_restart)) << name;
  }
}

TEST(ToolOutput, TableDataIdsFromTheListing) {
  const auto ids = TableDataIds(Fixture("pg_restore_15_list.txt"));
  ASSERT_EQ(ids.size(), 1u);  // only c's data was dumped: "3352; 0 16602 TABLE DATA public c postgres"
  EXPECT_EQ(ids.at(16602), 3352u);
  // Names with spaces do not confuse it: the table's OID decides.
  const auto spaced = TableDataIds("3366; 0 16390 TABLE DATA public t x postgres\n3367; 0 16393 TABLE DATA public t postgres\n");
  EXPECT_EQ(spaced.at(16390), 3366u);
  EXPECT_EQ(spaced.at(16393), 3367u);
}

TEST(ToolOutput, ZeroedBlock) {
  auto z = ZeroedBlock("invalid page in block 3 of relation base/16384/16385; zeroing out page");
  ASSERT_TRUE(z);
  EXPECT_EQ(z->first, 3u);
  EXPECT_EQ(z->second, "base/16384/16385");
  EXPECT_FALSE(ZeroedBlock("invalid page in block 3 of relation base/16384/16385"));
}

TEST(ToolOutput, CountCopyRowsLeavesOutTheEndMarker) {
  EXPECT_EQ(CountCopyRows(std::string(PGRESCUE_FIXTURES_DIR) + "/salvage/pg_dump_15_table_d.dat"), 100u);
  EXPECT_FALSE(CountCopyRows("/nonexistent/3342.dat"));
}

TEST(ToolOutput, CountCopyRowsInflatesGzip) {
  EXPECT_EQ(CountCopyRows(std::string(PGRESCUE_FIXTURES_DIR) + "/salvage/pg_dump_15_pgbench_tellers.dat.gz"), 700u);
}

TEST(ToolOutput, ShellQuoting) {
  EXPECT_EQ(ShellWord("/srv/salvage/dump/salv"), "/srv/salvage/dump/salv");
  EXPECT_EQ(ShellWord("my dir"), "'my dir'");
  EXPECT_EQ(ShellWord("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellWord(""), "''");
  EXPECT_EQ(ShellQuote("/srv"), "'/srv'");
  EXPECT_EQ(ShellCommand({"psql", "-c", "SELECT 1"}), "psql -c 'SELECT 1'");
}

TEST(TableCopy, RangesAreTidRangeScansFrom14AndTidListsBefore) {
  TableToCopy t;
  t.schema = "public";
  t.table = "a";
  t.columns = "id, v";
  TableCopyOptions o;
  o.server_major = 1400;
  EXPECT_EQ(CopyRangeSql(t, o, 2, 5),
            "COPY (SELECT id, v FROM ONLY \"public\".\"a\" WHERE ctid >= '(2,0)'::tid AND ctid < '(5,0)'::tid) TO STDOUT");
  o.server_major = 1000;
  // 291 items at most on an 8 kB heap page (MaxHeapTuplesPerPage).
  EXPECT_NE(CopyRangeSql(t, o, 2, 5).find("generate_series(2::bigint, 4::bigint) b, generate_series(1, 291) i"),
            std::string::npos);
}

}  // namespace
}  // namespace pgrescue
