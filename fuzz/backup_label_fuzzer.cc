// Any text as backup_label: never crashes; a label that parses names both
// locations, and its values written back in the server's format parse to
// the same label; judging a directory with it always gives evidence and
// starts recovery at the label's checkpoint. Seeds: labels as real servers
// wrote them (10's pg_start_backup, Debian 15's pg_basebackup, 17's
// pg_backup_stop).
#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "libcontrol/cluster/backup.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto label = pgrescue::ParseBackupLabel(text);

  pgrescue::DataDir dir;
  dir.backup_label = true;
  dir.backup_label_text = text;
  const auto state = pgrescue::JudgeBackup(dir, nullptr);
  if (!state.recovering || state.evidence.empty()) std::abort();
  if (state.label.has_value() != label.has_value()) std::abort();
  if (!label) {
    if (state.newest_start) std::abort();
    return 0;
  }
  if (!state.newest_start || *state.newest_start != label->checkpoint) std::abort();
  if (text.find("START WAL LOCATION") == std::string::npos ||
      text.find("CHECKPOINT LOCATION") == std::string::npos) {
    std::abort();
  }
  if (label->timeline && *label->timeline > 999999999) std::abort();  // at most nine digits

  // Text fields never keep a line break or the padding the parser trims.
  for (std::string_view field : {label->method, label->from, label->label, label->start_time}) {
    if (field.find('\n') != std::string_view::npos) std::abort();
    if (!field.empty() && (field.front() == ' ' || field.front() == '\t' || field.back() == ' ' ||
                           field.back() == '\t' || field.back() == '\r')) {
      std::abort();
    }
  }

  std::string again = fmt::format("START WAL LOCATION: {} (file 000000010000000000000001)\n"
                                  "CHECKPOINT LOCATION: {}\n",
                                  pgrescue::FormatLsn(label->start), pgrescue::FormatLsn(label->checkpoint));
  if (!label->method.empty()) again += "BACKUP METHOD: " + label->method + "\n";
  if (!label->from.empty()) again += "BACKUP FROM: " + label->from + "\n";
  if (!label->start_time.empty()) again += "START TIME: " + label->start_time + "\n";
  if (!label->label.empty()) again += "LABEL: " + label->label + "\n";
  if (label->timeline) again += fmt::format("START TIMELINE: {}\n", *label->timeline);
  const auto reparsed = pgrescue::ParseBackupLabel(again);
  if (!reparsed || reparsed->start != label->start || reparsed->checkpoint != label->checkpoint ||
      reparsed->timeline != label->timeline || reparsed->method != label->method ||
      reparsed->from != label->from || reparsed->label != label->label ||
      reparsed->start_time != label->start_time) {
    std::abort();
  }
  return 0;
}
