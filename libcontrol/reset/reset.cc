#include "libcontrol/reset/reset.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <tuple>

#include <fmt/format.h>

#include "libcontrol/control/control_text.h"
#include "libcontrol/base/wal_names.h"
#include "libcontrol/wal/wal_record.h"

namespace pgrescue {
namespace {

constexpr uint64_t kMax32 = 0xFFFFFFFFu;

Error Invalid(std::string message) { return MakeError(ErrorCode::kInvalidArgument, std::move(message)); }

// pg_resetwal's argument rules for the cluster's version.
Status Validate(const ControlLayout& l, const ResetRequest& r) {
  const VersionRules& rules = l.rules();
  if (r.epoch && *r.epoch >= kMax32) return Invalid("transaction ID epoch (-e) must not be -1");
  if (r.oldest_xid) {
    if (!rules.reset_has_oldest_xid_option) return Invalid(fmt::format("{} {} has no -u", l.reset_tool(), l.major()));
    if (*r.oldest_xid < 3 || *r.oldest_xid > kMax32) {
      return Invalid("oldest transaction ID (-u) must be greater than or equal to 3");
    }
  }
  if (r.next_xid) {
    if (*r.next_xid > kMax32) return Invalid("transaction ID (-x) must fit in 32 bits");
    if (rules.reset_min_next_xid > 1 && *r.next_xid < rules.reset_min_next_xid) {
      return Invalid(fmt::format("transaction ID (-x) must be greater than or equal to {}", rules.reset_min_next_xid));
    }
    if (*r.next_xid == 0) return Invalid("transaction ID (-x) must not be 0");
  }
  if (r.oldest_commit_ts || r.newest_commit_ts) {
    if (!l.Has(Field::kOldestCommitTsXid)) {
      return Invalid(fmt::format("{} {} has no -c", l.reset_tool(), l.major()));
    }
    const uint64_t minimum = rules.reset_min_commit_ts_xid;
    for (auto x : {r.oldest_commit_ts.value_or(0), r.newest_commit_ts.value_or(0)}) {
      if ((x != 0 && x < minimum) || x > kMax32) {
        return Invalid(fmt::format("transaction ID (-c) must be either 0 or greater than or equal to {}",
                                   minimum));
      }
    }
  }
  if (r.next_oid && (*r.next_oid == 0 || *r.next_oid > kMax32)) return Invalid("OID (-o) must not be 0");
  if (r.next_multi || r.oldest_multi) {
    if (!r.next_multi || !r.oldest_multi) return Invalid("-m takes two values: next,oldest");
    if (*r.next_multi > kMax32 || *r.oldest_multi > kMax32) return Invalid("multitransaction ID (-m) must fit in 32 bits");
    if (rules.reset_rejects_zero_next_multi && *r.next_multi == 0) return Invalid("multitransaction ID (-m) must not be 0");
    if (*r.oldest_multi == 0) return Invalid("oldest multitransaction ID (-m) must not be 0");
  }
  if (r.next_multi_offset && !rules.multixact_offsets_64bit) {
    if (rules.reset_rejects_max_multi_offset && *r.next_multi_offset >= kMax32) return Invalid("multitransaction offset (-O) must not be -1");
    if (*r.next_multi_offset > kMax32) {
      return Invalid("multitransaction offset (-O) must be between 0 and 4294967295");
    }
  }
  if (r.wal_segsize_mb) {
    if (!rules.reset_has_wal_segsize_option) return Invalid(fmt::format("{} {} has no --wal-segsize", l.reset_tool(), l.major()));
    const uint64_t mb = *r.wal_segsize_mb;
    if (mb < 1 || mb > 1024 || (mb & (mb - 1)) != 0) {
      return Invalid("argument of --wal-segsize must be a power of two between 1 and 1024");
    }
  }
  if (r.char_signed && !l.Has(Field::kDefaultCharSignedness)) {
    return Invalid(fmt::format("{} {} has no --char-signedness", l.reset_tool(), l.major()));
  }
  return Status::Ok();
}

// -l: 24 hex digits; the first 24 must be hex (pg_resetwal ignores what
// follows a non-hex character).
Result<WalFileName> ParseNextWalFile(const std::string& text, uint64_t segment_size) {
  size_t hex = 0;
  while (hex < text.size() && std::isxdigit(static_cast<unsigned char>(text[hex]))) ++hex;
  std::string upper = text.substr(0, 24);
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const auto name = ClassifyWalFileName(upper, segment_size);
  if (hex != 24 || name.kind != WalFileKind::kSegment) {
    return Invalid(fmt::format("invalid argument for option -l: \"{}\"; give a WAL file name of 24 "
                               "hexadecimal digits, such as 000000010000000000000002",
                               text));
  }
  return name;
}

}  // namespace

std::optional<uint64_t> ParseResetNumber(const std::string& text) {
  if (text.empty() || text[0] == '-' || text[0] == '+' || std::isspace(static_cast<unsigned char>(text[0]))) {
    return std::nullopt;
  }
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 0);
  if (errno != 0 || end == text.c_str() || *end != '\0') return std::nullopt;
  return v;
}

bool ParseResetPair(const std::string& text, std::optional<uint64_t>* a, std::optional<uint64_t>* b) {
  const auto comma = text.find(',');
  if (comma == std::string::npos) return false;
  *a = ParseResetNumber(text.substr(0, comma));
  *b = ParseResetNumber(text.substr(comma + 1));
  return a->has_value() && b->has_value();
}

bool ResetOptionText::any_value() const {
  return !x.empty() || !u.empty() || !e.empty() || !m.empty() || !O.empty() || !c.empty() || !o.empty() ||
         !l.empty() || !wal_segsize.empty();
}

Result<ResetRequest> ParseResetRequest(const ResetOptionText& t) {
  ResetRequest r;
  for (auto [text, option, out] : {std::tuple{&t.x, "-x", &r.next_xid}, {&t.u, "-u", &r.oldest_xid},
                                   {&t.e, "-e", &r.epoch}, {&t.O, "-O", &r.next_multi_offset},
                                   {&t.o, "-o", &r.next_oid}, {&t.wal_segsize, "--wal-segsize", &r.wal_segsize_mb}}) {
    if (text->empty()) continue;
    *out = ParseResetNumber(*text);
    if (!*out) return Invalid(fmt::format("invalid argument for option {}: \"{}\"", option, *text));
  }
  if (!t.m.empty() && !ParseResetPair(t.m, &r.next_multi, &r.oldest_multi)) {
    return Invalid(fmt::format("invalid argument for option -m: \"{}\"; give next,oldest", t.m));
  }
  if (!t.c.empty() && !ParseResetPair(t.c, &r.oldest_commit_ts, &r.newest_commit_ts)) {
    return Invalid(fmt::format("invalid argument for option -c: \"{}\"; give oldest,newest", t.c));
  }
  if (!t.l.empty()) r.next_wal_file = t.l;
  if (!t.char_signedness.empty()) {
    std::string s = t.char_signedness;
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (s != "signed" && s != "unsigned") return Invalid("--char-signedness takes signed or unsigned");
    r.char_signed = s == "signed";
  }
  return r;
}

Result<ResetOutcome> PlanReset(const ControlFile& current, bool guessed, const DirListing& wal,
                               const ResetRequest& r, int64_t now) {
  const ControlLayout& l = current.layout();
  if (auto valid = Validate(l, r); !valid) return valid.error();
  ControlFile c = current;
  const uint64_t old_segment_size = c.value(Field::kWalSegmentSize);
  if (!IsValidWalSegmentSize(old_segment_size)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     fmt::format("pg_control's WAL segment size {} is not a power of two from 1 MB to 1 GB",
                                 old_segment_size));
  }
  const uint64_t segment_size = r.wal_segsize_mb ? *r.wal_segsize_mb << 20 : old_segment_size;

  std::optional<WalFileName> min_wal;
  if (r.next_wal_file) {
    auto parsed = ParseNextWalFile(*r.next_wal_file, segment_size);
    if (!parsed) return parsed.error();
    min_wal = *parsed;
  }

  // The dry run shows the values as they were, then what changes.
  std::string report = FormatResetwalValues(current, guessed);

  // The options, in pg_resetwal's order.
  if (r.epoch) c.set(Field::kNextXidEpoch, *r.epoch);
  if (r.oldest_xid) {
    c.set(Field::kOldestXid, *r.oldest_xid);
    c.set(Field::kOldestXidDb, 0);
  }
  if (r.next_xid) {
    c.set(Field::kNextXid, *r.next_xid);
    if (l.rules().reset_next_xid_moves_oldest) {
      // Up to 9.5 -x also moved oldestXid 2 billion back (wrapping, skipping 0-2).
      uint64_t oldest = (*r.next_xid - 2000000000u) & kMax32;
      if (oldest < 3) oldest += 3;
      c.set(Field::kOldestXid, oldest);
      c.set(Field::kOldestXidDb, 0);
    }
  }
  if (r.oldest_commit_ts.value_or(0) != 0) c.set(Field::kOldestCommitTsXid, *r.oldest_commit_ts);
  if (r.newest_commit_ts.value_or(0) != 0) c.set(Field::kNewestCommitTsXid, *r.newest_commit_ts);
  if (r.next_oid) c.set(Field::kNextOid, *r.next_oid);
  if (r.next_multi) {
    c.set(Field::kNextMulti, *r.next_multi);
    c.set(Field::kOldestMulti, *r.oldest_multi < 1 ? *r.oldest_multi + 1 : *r.oldest_multi);
    c.set(Field::kOldestMultiDb, 0);
  }
  if (r.next_multi_offset) c.set(Field::kNextMultiOffset, *r.next_multi_offset);
  if (min_wal && min_wal->timeline > c.value(Field::kThisTimeLineId)) {
    c.set(Field::kThisTimeLineId, min_wal->timeline);
    c.set(Field::kPrevTimeLineId, min_wal->timeline);
  }
  if (r.wal_segsize_mb) c.set(Field::kWalSegmentSize, segment_size);
  if (r.char_signed) c.set(Field::kDefaultCharSignedness, *r.char_signed ? 1 : 0);

  // The end of the old WAL: the REDO point or any WAL file, on any timeline,
  // in the old segment size; then in the new size, one segment further.
  uint64_t segno = c.value(Field::kRedo) / old_segment_size;
  for (const auto& e : wal.entries) {
    const auto n = ClassifyWalFileName(e.name, old_segment_size);
    if ((n.kind == WalFileKind::kSegment || n.kind == WalFileKind::kPartial) && *n.segment_number > segno) {
      segno = *n.segment_number;
    }
  }
  const uint64_t bytepos = segno * old_segment_size;
  uint64_t new_segment = (bytepos + segment_size - 1) / segment_size + 1;
  if (min_wal && *min_wal->segment_number > new_segment) new_segment = *min_wal->segment_number;

  report += "\n\nValues to be changed:\n\n";
  report += AlignedLine("First log segment after reset:",
                        WalSegmentName{static_cast<uint32_t>(c.value(Field::kThisTimeLineId)), new_segment}
                            .ToString(segment_size));
  auto line = [&](std::string_view label, Field f) { report += AlignedLine(label, fmt::format("{}", c.value(f))); };
  if (r.next_multi) {
    line("NextMultiXactId:", Field::kNextMulti);
    line("OldestMultiXid:", Field::kOldestMulti);
    line("OldestMulti's DB:", Field::kOldestMultiDb);
  }
  if (r.next_multi_offset) line("NextMultiOffset:", Field::kNextMultiOffset);
  if (r.next_oid) line("NextOID:", Field::kNextOid);
  if (r.next_xid) {
    line("NextXID:", Field::kNextXid);
    if (l.rules().reset_next_xid_reports_oldest) {
      line("OldestXID:", Field::kOldestXid);
      line("OldestXID's DB:", Field::kOldestXidDb);
    }
  }
  if (r.oldest_xid && !l.rules().reset_next_xid_reports_oldest) {
    line("OldestXID:", Field::kOldestXid);
    line("OldestXID's DB:", Field::kOldestXidDb);
  }
  if (r.epoch) line("NextXID epoch:", Field::kNextXidEpoch);
  if (r.oldest_commit_ts.value_or(0) != 0) line("oldestCommitTsXid:", Field::kOldestCommitTsXid);
  if (r.newest_commit_ts.value_or(0) != 0) line("newestCommitTsXid:", Field::kNewestCommitTsXid);
  if (r.wal_segsize_mb) line("Bytes per WAL segment:", Field::kWalSegmentSize);

  ResetOutcome out{c, new_segment, segment_size, std::move(report)};

  // RewriteControlFile: a shut-down checkpoint at the start of the new WAL,
  // recovery and backup state cleared, settings at their defaults (the
  // server sets the real ones at start).
  ControlFile& n = out.control;
  const uint64_t redo = new_segment * segment_size + kWalLongPageHeaderSize;
  n.set(Field::kRedo, redo);
  n.set(Field::kCheckpointTime, static_cast<uint64_t>(now));
  n.set(Field::kState, static_cast<uint64_t>(DbState::kShutdowned));
  n.set(Field::kTime, static_cast<uint64_t>(now));
  n.set(Field::kCheckPoint, redo);
  n.set(Field::kPrevCheckPoint, 0);
  for (Field f : {Field::kMinRecoveryPoint, Field::kMinRecoveryPointTli, Field::kBackupStartPoint,
                  Field::kBackupEndPoint, Field::kBackupEndRequired}) {
    n.set(f, 0);
  }
  if (!r.keep_settings) {
    for (Field f : {Field::kWalLevel, Field::kWalLogHints, Field::kTrackCommitTimestamp, Field::kMaxPreparedXacts}) {
      n.set(f, 0);
    }
    n.set(Field::kMaxConnections, 100);
    n.set(Field::kMaxWalSenders, 10);
    n.set(Field::kMaxWorkerProcesses, 8);
    n.set(Field::kMaxLocksPerXact, 64);
  }
  return out;
}

}  // namespace pgrescue
