#include "libcontrol/plan/failure_catalogue.h"

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
