// Any bytes as a server log in each format, and as a message against every
// form in the failure catalogue: never crashes, and what it returns keeps
// its contract (lines count from 1 and never pass the input's; the last run
// is a tail of all messages; a match's values are pieces of the text).
// Seeds: real logs from fixtures/server-logs and fixtures/salvage, one per
// failure, in stderr (plain and with a prefix), csvlog and jsonlog.
#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "libcontrol/cluster/server_log.h"
#include "libcontrol/plan/failure_catalogue.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (auto format : {pgrescue::LogFormat::kStderr, pgrescue::LogFormat::kCsv, pgrescue::LogFormat::kJson}) {
    const auto all = pgrescue::ParseServerLog(text, format);
    for (const auto& m : all) {
      if (m.line == 0 || m.line > lines) std::abort();
    }
    const auto last = pgrescue::LastServerRun(all);
    if (last.size() > all.size() || !std::equal(last.begin(), last.end(), all.end() - static_cast<long>(last.size()),
                                                [](const auto& a, const auto& b) { return a.text == b.text; })) {
      std::abort();
    }
  }
  pgrescue::SniffLogFormat(text, "x.log");
  const std::string_view message = text.substr(0, std::min<size_t>(text.size(), 1024));
  for (const auto& c : pgrescue::FailureCatalogue()) {
    for (const auto& form : c.messages) {
      std::vector<std::string> values;
      if (!pgrescue::MatchMessageForm(form.format, message, &values)) continue;
      for (const auto& v : values) {
        if (message.find(v) == std::string_view::npos) std::abort();
      }
    }
  }
  // The text as a format too: conversions the matcher does not know stay literal.
  pgrescue::MatchMessageForm(message.substr(0, 200), message, nullptr);
  return 0;
}
