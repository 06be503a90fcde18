// Any text as postgresql.conf, postgresql.auto.conf or recovery.conf: never
// crashes; keeps only the settings it looks for, lower-cased, never empty;
// reads each line on its own (the text cut in two at a line break gives
// what it gives whole); and a kept value written back as
// "name = 'value'" reads the same.
// Seeds, real files: Debian's 15 cluster's postgresql.conf (pg_createcluster)
// and postgresql.auto.conf (initdb), PostgreSQL 10's and 18's
// postgresql.conf.sample and 11's recovery.conf.sample.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "libcontrol/cluster/data_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  pgrescue::DataDir dir;
  pgrescue::ParseSettings(text, &dir.settings);

  // Cut at the first line break past the middle (one cut, not one a line:
  // a real file of 800 lines would run 800 parses).
  const size_t cut = std::min(text.find('\n', text.size() / 2), text.size());
  std::map<std::string, std::string> in_two;
  pgrescue::ParseSettings(text.substr(0, cut), &in_two);
  pgrescue::ParseSettings(text.substr(std::min(cut + 1, text.size())), &in_two);
  if (in_two != dir.settings) std::abort();

  const auto& relevant = pgrescue::ControlRelevantSettings();
  for (const auto& [name, value] : dir.settings) {
    const bool known = std::find(relevant.begin(), relevant.end(), name) != relevant.end() ||
                       name == "log_directory" || name == "log_filename" || name == "standby_mode";
    if (!known || value.empty()) std::abort();
    std::map<std::string, std::string> again;
    pgrescue::ParseSettings(name + " = '" + value + "'\n", &again);
    if (again.size() != 1 || again.begin()->second != value) std::abort();
    (void)pgrescue::SettingIsOn(dir, name);
  }
  return 0;
}
