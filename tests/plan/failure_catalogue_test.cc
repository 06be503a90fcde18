#include "libcontrol/plan/failure_catalogue.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>

namespace pgrescue {
namespace {

TEST(MessageForm, ConversionsMatchAnyTextAndAreCaptured) {
  std::vector<std::string> v;
  EXPECT_TRUE(MatchMessageForm("invalid page in block %u of relation %s", "invalid page in block 7 of relation "
                               "base/16384/16397", &v));
  EXPECT_EQ(v, (std::vector<std::string>{"7", "base/16384/16397"}));
  EXPECT_TRUE(MatchMessageForm("invalid record length at %X/%X: wanted %u, got %u",
                               "invalid record length at 0/15EEC50: wanted 24, got 0", &v));
  EXPECT_EQ(v, (std::vector<std::string>{"0", "15EEC50", "24", "0"}));
  EXPECT_TRUE(MatchMessageForm("could not open file \"%s\": %m",
                               "could not open file \"global/pg_control\": No such file or directory", &v));
  EXPECT_EQ(v[1], "No such file or directory");
  EXPECT_TRUE(MatchMessageForm("100%% sure %s", "100% sure yes", nullptr));
  EXPECT_TRUE(MatchMessageForm("%s", "", nullptr));
}

TEST(MessageForm, LiteralsMustMatchWhole) {
  EXPECT_FALSE(MatchMessageForm("could not locate a valid checkpoint record",
                                "could not locate a valid checkpoint record at 0/15EEBD8", nullptr));
  EXPECT_TRUE(MatchMessageForm("could not locate a valid checkpoint record at %X/%X",
                               "could not locate a valid checkpoint record at 0/15EEBD8", nullptr));
  EXPECT_FALSE(MatchMessageForm("invalid checkpoint record", "invalid primary checkpoint record", nullptr));
  EXPECT_FALSE(MatchMessageForm("lock file \"%s\" already exists", "lock file postmaster.pid already exists",
                                nullptr));
}

TEST(MessageForm, ManyConversionsOnLongTextStayBounded) {
  const std::string text(4000, 'a');
  EXPECT_FALSE(MatchMessageForm("%s%s%s%s%s%sb", text, nullptr));
  // Every 'a' a place to try, 'b' nowhere: the budget ends it.
  EXPECT_FALSE(MatchMessageForm("%sa%sa%sa%sa%sb%sc", text + "c", nullptr));
  EXPECT_TRUE(MatchMessageForm("%sa%sa%sa%sa%sb%sc", text + "bc", nullptr));
}

TEST(MessageForm, TheLastLiteralEndsTheText) {
  std::vector<std::string> v;
  EXPECT_TRUE(MatchMessageForm("%s: %s", "x: y: z", &v));
  EXPECT_EQ(v, (std::vector<std::string>{"x", "y: z"}));
  EXPECT_TRUE(MatchMessageForm("%s is %s.", "it is what it is.", &v));
  EXPECT_EQ(v, (std::vector<std::string>{"it", "what it is"}));
  EXPECT_FALSE(MatchMessageForm("ab%sba", "aba", nullptr));  // "ab" and "ba" would overlap
  EXPECT_TRUE(MatchMessageForm("a%sa", "aa", nullptr));
  // A trailing conversion takes the rest however long it is (every place an
  // empty last literal "occurred" once cost a step of the budget).
  EXPECT_TRUE(MatchMessageForm("%s: %s", "x: " + std::string(3000, 'y'), &v));
  EXPECT_EQ(v[1].size(), 3000u);
  EXPECT_FALSE(MatchMessageForm("a%sa", "a", nullptr));
}

TEST(FailureCatalogue, EveryClassHasMessagesEvidenceAndAUniqueCode) {
  std::set<std::string_view> codes;
  for (const auto& c : FailureCatalogue()) {
    EXPECT_TRUE(codes.insert(c.code).second) << c.code;
    EXPECT_FALSE(c.messages.empty()) << c.code;
    EXPECT_FALSE(c.evidence.empty()) << c.code;
    EXPECT_FALSE(c.remedies.empty()) << c.code;
    std::set<std::string_view> formats;
    for (const auto& m : c.messages) EXPECT_TRUE(formats.insert(m.format).second) << c.code << ": " << m.format;
  }
  EXPECT_EQ(FindFailureClass("no-checkpoint")->code, "no-checkpoint");
  EXPECT_EQ(FindFailureClass("nonsense"), nullptr);
}

}  // namespace
}  // namespace pgrescue

namespace pgrescue {
namespace {

// Every real server log in fixtures/server-logs (scripts/make-server-logs.py,
// servers 10-18): the class its directory is named for must be among those its
// last run names. The primary's own log of a canceled backup and a crashed
// primary's logs are context, not symptoms.
TEST(FailureCatalogue, RealServerLogsNameTheirClass) {
  namespace fs = std::filesystem;
  const std::map<std::string, std::string> expected = {
      {"control-crc", "control-damaged"},     {"control-missing", "control-damaged"},
      {"lock-file", "directory-in-use"},      {"no-checkpoint", "no-checkpoint"},
      {"page-damaged", "page-damaged"},       {"system-id-differs", "system-id-differs"},
      {"wal-damaged", "wal-damaged"},         {"xact-missing", "xact-missing"},
      {"canceled-backup", "canceled-backup"},
  };
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(PGRESCUE_FIXTURES_DIR) / "server-logs")) {
    const std::string name = entry.path().filename().string();
    const std::string dir = entry.path().parent_path().filename().string();
    const auto cls = expected.find(dir);
    if (!entry.is_regular_file() || cls == expected.end() || name.find(".primary.") != std::string::npos) continue;
    // 10 and 11 print neither the damaged WAL page nor the foreign system
    // identifier (fixtures/server-logs/README.md): their recovery just ends,
    // or fails to find the checkpoint.
    const bool old = name.starts_with("pg10.") || name.starts_with("pg11.");
    if (old && dir == "wal-damaged") continue;
    const std::string want = old && dir == "system-id-differs" ? "no-checkpoint" : cls->second;
    auto log = ReadServerLog(entry.path().string());
    ASSERT_TRUE(log.ok()) << entry.path();
    std::vector<std::string> named;
    for (const auto& c : FailureCatalogue()) {
      if (std::any_of(log->messages.begin(), log->messages.end(), [&](const auto& m) { return NamesClass(c, m); })) {
        named.emplace_back(c.code);
      }
    }
    EXPECT_NE(std::find(named.begin(), named.end(), want), named.end())
        << entry.path() << " (" << LogFormatName(log->format) << ", " << log->messages.size()
        << " messages in its last run) names " << ::testing::PrintToString(named);
    ++files;
  }
  EXPECT_GE(files, 100u);
}

}  // namespace
}  // namespace pgrescue
