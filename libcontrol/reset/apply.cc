#include "libcontrol/reset/apply.h"

#include <filesystem>

#include <fmt/format.h>

#include "libcontrol/base/wal_names.h"
#include "libcontrol/control/control_json.h"
#include "libcontrol/control/control_text.h"
#include "libcontrol/reset/rescue.h"
#include "libcontrol/reset/writer_lock.h"
#include "libcontrol/wal/wal_record.h"

namespace pgrescue {
namespace {

std::string WalDirName(const DataDir& dir) { return std::filesystem::path(dir.wal.path).filename().string(); }

bool IsSegment(std::string_view name, uint64_t segment_size, bool partial_too) {
  const auto kind = ClassifyWalFileName(name, segment_size).kind;
  return kind == WalFileKind::kSegment || (partial_too && kind == WalFileKind::kPartial);
}

// The archive_status entries (.ready, .done) of segments.
std::vector<std::string> StatusEntries(const DataDir& dir, uint64_t segment_size, bool partial_too) {
  std::vector<std::string> out;
  for (const auto& e : dir.wal_archive_status.entries) {
    for (const std::string suffix : {".ready", ".done"}) {
      if (e.name.size() > suffix.size() && e.name.ends_with(suffix) &&
          IsSegment(e.name.substr(0, e.name.size() - suffix.size()), segment_size, partial_too)) {
        out.push_back(WalDirName(dir) + "/archive_status/" + std::string(e.name));
      }
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> FilesToKeep(const DataDir& dir, uint64_t segment_size) {
  std::vector<std::string> out;
  if (dir.control_present) out.push_back("global/pg_control");
  for (const auto& e : dir.wal.entries) {
    if (!e.is_dir && IsSegment(e.name, segment_size, true)) out.push_back(WalDirName(dir) + "/" + std::string(e.name));
  }
  for (auto& s : StatusEntries(dir, segment_size, true)) out.push_back(std::move(s));
  for (const auto& e : dir.wal_summaries.entries) {
    if (e.name.size() == 48 && e.name.ends_with(".summary")) {
      out.push_back(WalDirName(dir) + "/summaries/" + std::string(e.name));
    }
  }
  return out;
}

std::vector<std::string> WalFilesToCopy(const DataDir& dir, uint64_t segment_size) {
  std::vector<std::string> out;
  for (const auto& e : dir.wal.entries) {
    if (!e.is_dir && IsSegment(e.name, segment_size, false)) out.push_back(WalDirName(dir) + "/" + std::string(e.name));
  }
  for (const auto& e : dir.wal_archive_status.entries) {
    if (e.is_dir) continue;
    const auto dot = e.name.rfind('.');
    if (dot != std::string::npos && (e.name.ends_with(".ready") || e.name.ends_with(".done")) &&
        IsSegment(e.name.substr(0, dot), segment_size, false)) {
      out.push_back(WalDirName(dir) + "/archive_status/" + std::string(e.name));
    }
  }
  return out;
}

uint16_t ChooseMagic(const ControlLayout& layout, const DataDir& dir) {
  if (auto h = NewestWalLongPageHeader({&dir.wal}, layout)) return h->header.magic;
  return layout.wal_page_magics().front();
}

std::string TakePlannedValues(const Plan& plan, ResetRequest* r) {
  std::string text;
  for (const auto& v : plan.values) {
    text += fmt::format("{} {}: {}\n", v.option, v.what, v.value);
    for (const auto& why : v.reasoning) text += "    " + why + "\n";
    if (!v.in_command) continue;
    std::optional<uint64_t> a, b;
    if (v.option == "-x" && !r->next_xid) r->next_xid = ParseResetNumber(v.value);
    if (v.option == "-u" && !r->oldest_xid) r->oldest_xid = ParseResetNumber(v.value);
    if (v.option == "-e" && !r->epoch) r->epoch = ParseResetNumber(v.value);
    if (v.option == "-O" && !r->next_multi_offset) r->next_multi_offset = ParseResetNumber(v.value);
    if (v.option == "-o" && !r->next_oid) r->next_oid = ParseResetNumber(v.value);
    if (v.option == "-l" && !r->next_wal_file) r->next_wal_file = v.value;
    if (v.option == "-m" && !r->next_multi && ParseResetPair(v.value, &a, &b)) r->next_multi = a, r->oldest_multi = b;
    if (v.option == "-c" && !r->oldest_commit_ts && ParseResetPair(v.value, &a, &b)) {
      r->oldest_commit_ts = a, r->newest_commit_ts = b;
    }
  }
  return text + "\n";
}

std::string DescribeControlChanges(const ControlFile& before, const ControlFile& after, bool before_known) {
  const auto a = ControlSqlView(before), b = ControlSqlView(after);
  std::string text = "pg_control changes:\n";
  for (const auto& [group, fields] : b.items()) {
    for (const auto& [key, value] : fields.items()) {
      const auto& old = a[group][key];
      if (old == value) continue;
      text += fmt::format("  {}.{}: {} -> {}\n", group, key, before_known ? old.dump() : "(rebuilt)", value.dump());
    }
  }
  return text + fmt::format("  state: {} -> {}\n\n", DbStateText(before.value(Field::kState)),
                            DbStateText(after.value(Field::kState)));
}

std::string DescribeSignalFilesLeft(const std::string& data_dir) {
  std::string text;
  for (const std::string signal : {"recovery.signal", "standby.signal", "recovery.conf"}) {
    if (std::filesystem::exists(data_dir + "/" + signal)) {
      text += signal + " is left in place: the server will start in " +
              (signal == "standby.signal" ? "standby mode" : "archive recovery") +
              "; remove it first unless that is what you want\n";
    }
  }
  return text;
}

Result<ResetWrites> WritesForReset(const DataDir& dir, const ControlFile& current, const ResetOutcome& outcome) {
  const uint64_t segment_size = outcome.segment_size;
  auto page = BuildResetWalPage(outcome.control, segment_size, ChooseMagic(current.layout(), dir));
  if (!page) return page.error();
  auto control = SerializeControlFile(outcome.control);
  if (!control) return control.error();
  const auto timeline = static_cast<uint32_t>(outcome.control.value(Field::kThisTimeLineId));
  const std::string segment =
      WalDirName(dir) + "/" + WalSegmentName{timeline, outcome.new_segment}.ToString(segment_size);
  const uint64_t tail = segment_size - page->size();
  ResetWrites w{"WAL reset", {}, FilesToKeep(dir, current.value(Field::kWalSegmentSize)), {}};
  w.write.push_back({"global/pg_control", std::move(*control), 0});
  w.write.push_back({segment, std::move(*page), tail});
  return w;
}

Result<ResetWrites> WritesForFromWal(const DataDir& dir, const ControlFile& control, uint64_t segment_size) {
  auto bytes = SerializeControlFile(control);
  if (!bytes) return bytes.error();
  ResetWrites w{"pg_control pointed at a checkpoint in WAL", WalFilesToCopy(dir, segment_size), {}, {}};
  if (dir.control_present) w.keep.push_back("global/pg_control");
  w.write.push_back({"global/pg_control", std::move(*bytes), 0});
  return w;
}

Result<ResetWrites> WritesForControl(const ControlFile& control, const std::string& purpose) {
  auto bytes = SerializeControlFile(control);
  if (!bytes) return bytes.error();
  ResetWrites w{purpose, {}, {"global/pg_control"}, {}};
  w.write.push_back({"global/pg_control", std::move(*bytes), 0});
  return w;
}

namespace {

Applied ApplyLocked(const std::string& data_dir, const std::string& rescue_dir, const ResetWrites& writes) {
  Applied applied;
  auto owner = DataFileOwner(data_dir);
  if (!owner) return applied.status = owner.error(), applied;
  owner->mode = 0600 | (owner->mode & 0040);  // group read follows the cluster's setting
  auto folder = RescueFolder::Create(data_dir, rescue_dir, writes.purpose);
  if (!folder) return applied.status = folder.error(), applied;
  applied.rescue_dir = folder->dir();
  applied.started = true;
  for (const auto& relative : writes.copy) {
    auto r = folder->KeepCopy(relative);
    if (!r) return applied.status = r.error(), applied;
    (r->reflinked ? applied.reflinked_bytes : applied.copied_bytes) += r->bytes;
    applied.wal_copies += relative.find("/archive_status/") == std::string::npos ? 1 : 0;
  }
  for (const auto& relative : writes.keep) {
    if (auto r = folder->Keep(relative); !r) return applied.status = r, applied;
  }
  applied.kept = folder->kept().size();
  for (const auto& f : writes.write) {
    if (auto r = folder->WriteNew(f.path, f.bytes, f.zero_tail, *owner); !r) return applied.status = r, applied;
  }
  return applied;
}

}  // namespace

Applied ApplyWrites(const std::string& data_dir, const std::string& rescue_dir, const ResetWrites& writes) {
  auto lock = WriterLock::Take(data_dir, rescue_dir, false);
  if (!lock) {
    Applied refused;
    refused.status = lock.error();
    return refused;
  }
  Applied applied = ApplyLocked(data_dir, rescue_dir, writes);
  if (applied.needs_undo()) {
    lock->KeepForUndo();
  } else if (auto r = lock->Release(); !r) {
    applied.warnings.push_back(r.error().ToString());
  }
  return applied;
}

}  // namespace pgrescue
