#include "libcontrol/wal/wal_report.h"

#include <fmt/format.h>

#include "libcontrol/control/control_json.h"
#include "libcontrol/control/control_text.h"
#include "libcontrol/base/wal_names.h"
#include "libcontrol/wal/wal_record.h"

namespace pgrescue {
namespace {

std::string SegmentText(uint32_t timeline, uint64_t segno, uint64_t segment_size) {
  return WalSegmentName{timeline, segno}.ToString(segment_size);
}


}  // namespace

std::string FormatMegabytes(uint64_t bytes) {
  if (bytes < (1 << 20)) return fmt::format("{} kB", (bytes + 1023) / 1024);
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / (1 << 20));
}


nlohmann::ordered_json CheckpointToJson(const WalCheckpoint& checkpoint, const ControlLayout& layout) {
  ControlFile control(layout);
  checkpoint.ApplyTo(&control);
  control.set(Field::kCheckPoint, checkpoint.lsn.value);
  auto view = ControlSqlView(control)["checkpoint"];
  view.erase("prior_lsn");
  return view;
}

std::string FormatWalReport(const WalScanReport& r, const WalScanOptions& o) {
  const uint64_t seg = o.segment_size;
  std::string out;
  auto line = [&](std::string_view label, const std::string& value) { out += AlignedLine(label, value); };
  line("WAL scan:", r.mode == WalScanMode::kFull ? "full (every record from the oldest segment)"
                                                  : "latest checkpoint (newest segments back to its redo point)");
  line("Timeline:", fmt::format("{}", r.timeline));
  for (size_t i = 0; i + 1 < r.history.size(); ++i) {
    line("Timeline switch:", fmt::format("{} -> {} at {}", r.history[i].timeline, r.history[i + 1].timeline,
                                         FormatLsn(r.history[i].end)));
  }
  line("Segments present:", fmt::format("{} ({} to {})", r.segments_present,
                                        SegmentText(r.timeline, *r.oldest_segment, seg),
                                        SegmentText(r.timeline, *r.newest_segment, seg)));
  if (r.recycled_segments > 0) {
    line("Recycled segments past the end:", fmt::format("{} (their pages belong to older WAL)", r.recycled_segments));
  }
  line("Segments read:", fmt::format("{} ({} of records validated, {} records)", r.segments_read,
                                     FormatMegabytes(r.bytes_validated), r.records));
  line("Validated from:", FormatLsn(r.validated_from));
  line("End of valid WAL:", fmt::format("{} ({}: {})", FormatLsn(r.end.at), WalStopName(r.end.why), r.end.detail));
  for (const auto& b : r.breaks) {
    line("Break in WAL:", fmt::format("{} ({}: {}); reading resumed in a later segment", FormatLsn(b.at),
                                      WalStopName(b.why), b.detail));
  }
  out += "\nCheckpoints found (oldest first):\n";
  if (r.checkpoints.empty()) out += "  none\n";
  for (const auto& c : r.checkpoints) {
    const auto j = CheckpointToJson(c.record, *o.layout);
    out += fmt::format("  {}  {:<8}  redo {}  TimeLineID {}  NextXID {}  NextOID {}  NextMulti {}  "
                       "NextMultiOffset {}  time {}{}\n",
                       FormatLsn(c.record.lsn), c.record.shutdown ? "shutdown" : "online",
                       j["redo_lsn"].get<std::string>(), j["timeline_id"].dump(), j["next_xid"].get<std::string>(),
                       j["next_oid"].get<std::string>(), j["next_multixact_id"].get<std::string>(),
                       j["next_multi_offset"].get<std::string>(), j["checkpoint_time"].get<std::string>(),
                       c.usable ? "" : "  (its redo point was not read: not usable)");
  }
  out += "\n";
  if (const auto* c = r.NewestUsable()) {
    line("Newest usable checkpoint:", FormatLsn(c->record.lsn));
    line("Crash recovery from it replays:",
         fmt::format("{} to {} ({})", FormatLsn(Lsn{c->record.redo()}), FormatLsn(r.end.at),
                     FormatMegabytes(r.end.at.value - c->record.redo())));
  } else {
    line("Newest usable checkpoint:", "none: no checkpoint record with its redo point survives");
  }
  const auto& m = r.maxima;
  out += "\nProven by WAL (over the records validated):\n";
  auto at = [](Lsn lsn) { return fmt::format(" (record at {})", FormatLsn(lsn)); };
  line("  Newest XID used:", m.newest_xid ? fmt::format("{}", *m.newest_xid) + at(m.newest_xid_at) : "none");
  line("  Latest NEXTOID:", m.next_oid ? fmt::format("{}", *m.next_oid) + at(m.next_oid_at) : "none");
  line("  Newest MultiXact created:",
       m.newest_multi ? fmt::format("{}, next offset {}", *m.newest_multi, *m.next_multi_offset) + at(m.newest_multi_at)
                      : "none");
  line("  Last commit:", m.last_commit_time ? fmt::format("{} (XID {}){}", FormatPgTimestamp(*m.last_commit_time),
                                                          m.last_commit_xid, at(m.last_commit_at))
                                            : "none");
  line("  Commits:", fmt::format("{}", m.commits));
  if (m.last_commit_time && r.NewestUsable()) {
    out += fmt::format("\nData is consistent up to {}: crash recovery from the newest usable checkpoint replays "
                       "every commit up to there.\n",
                       FormatPgTimestamp(*m.last_commit_time));
  }
  return out;
}

nlohmann::ordered_json WalReportToJson(const WalScanReport& r, const WalScanOptions& o) {
  using J = nlohmann::ordered_json;
  auto lsn_or_null = [](bool has, Lsn lsn) { return has ? J(FormatLsn(lsn)) : J(nullptr); };
  J doc;
  doc["mode"] = r.mode == WalScanMode::kFull ? "full" : "latest-checkpoint";
  doc["version"] = o.layout->major();
  doc["segment_size"] = o.segment_size;
  doc["timeline"] = r.timeline;
  doc["history"] = J::array();
  for (const auto& h : r.history) {
    doc["history"].push_back({{"timeline", h.timeline}, {"begin", FormatLsn(h.begin)},
                              {"end", h.end.value == 0 ? J(nullptr) : J(FormatLsn(h.end))}});
  }
  doc["segments_present"] = r.segments_present;
  doc["oldest_segment"] = SegmentText(r.timeline, *r.oldest_segment, o.segment_size);
  doc["newest_segment"] = SegmentText(r.timeline, *r.newest_segment, o.segment_size);
  doc["recycled_segments"] = r.recycled_segments;
  doc["segments_read"] = r.segments_read;
  doc["bytes_validated"] = r.bytes_validated;
  doc["records"] = r.records;
  doc["validated_from"] = FormatLsn(r.validated_from);
  doc["end"] = {{"lsn", FormatLsn(r.end.at)}, {"reason", WalStopName(r.end.why)}, {"detail", r.end.detail}};
  doc["breaks"] = J::array();
  for (const auto& b : r.breaks) {
    doc["breaks"].push_back({{"lsn", FormatLsn(b.at)}, {"reason", WalStopName(b.why)}, {"detail", b.detail}});
  }
  doc["checkpoints"] = J::array();
  for (const auto& c : r.checkpoints) {
    J j{{"lsn", FormatLsn(c.record.lsn)}, {"kind", c.record.shutdown ? "shutdown" : "online"}, {"usable", c.usable}};
    j["fields"] = CheckpointToJson(c.record, *o.layout);
    doc["checkpoints"].push_back(j);
  }
  const auto* newest = r.NewestUsable();
  doc["newest_usable_checkpoint"] = lsn_or_null(newest != nullptr, newest ? newest->record.lsn : Lsn{});
  const auto& m = r.maxima;
  doc["maxima"] = {
      {"newest_xid", m.newest_xid ? J(*m.newest_xid) : J(nullptr)},
      {"newest_xid_lsn", lsn_or_null(m.newest_xid.has_value(), m.newest_xid_at)},
      {"next_oid", m.next_oid ? J(*m.next_oid) : J(nullptr)},
      {"next_oid_lsn", lsn_or_null(m.next_oid.has_value(), m.next_oid_at)},
      {"newest_multixact", m.newest_multi ? J(*m.newest_multi) : J(nullptr)},
      {"next_multixact_offset", m.next_multi_offset ? J(*m.next_multi_offset) : J(nullptr)},
      {"newest_multixact_lsn", lsn_or_null(m.newest_multi.has_value(), m.newest_multi_at)},
      {"last_commit_time", m.last_commit_time ? J(FormatPgTimestamp(*m.last_commit_time)) : J(nullptr)},
      {"last_commit_xid", m.last_commit_time ? J(m.last_commit_xid) : J(nullptr)},
      {"last_commit_lsn", lsn_or_null(m.last_commit_time.has_value(), m.last_commit_at)},
      {"commits", m.commits},
  };
  return doc;
}

std::string DescribeWalPastEnd(const WalPastEnd& past, const WalScanEnd& end) {
  const auto& m = past.maxima;
  const std::string last = m.last_commit_time ? fmt::format(", the last (XID {}) at {}", m.last_commit_xid,
                                                            FormatPgTimestamp(*m.last_commit_time))
                                              : "";
  return fmt::format("at least {} commit(s): those in WAL written past the break at {} ({}), {} record(s) from {} "
                     "to {}{}, and any in the unreadable part; recovery stops at the break and never replays them",
                     m.commits, FormatLsn(end.at), WalStopName(end.why), past.records, FormatLsn(past.from),
                     FormatLsn(past.to), last);
}

}  // namespace pgrescue
