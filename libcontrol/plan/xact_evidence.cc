#include "libcontrol/plan/xact_evidence.h"

#include <dirent.h>

#include <set>

#include <fmt/format.h>

#include "libcontrol/base/file_bytes.h"
#include "libcontrol/base/id_order.h"
#include "libcontrol/pages/page_scan.h"
#include "libcontrol/slru/xact_status.h"
#include "libcontrol/wal/wal_scan.h"
#include "libcontrol/wal/xact_outcome.h"

namespace pgrescue {
namespace {

constexpr uint32_t kFirstNormalXid = 3;

// What WAL records say, per XID, and from which XID on its silence means
// "did not commit".
struct WalOutcomes {
  std::map<uint32_t, XactOutcomeKind> said;  // the last outcome recorded
  std::optional<uint32_t> complete_from;
  bool prepared_subxacts_unknown = false;  // then silence proves nothing
};

void ReadWal(const DataDir& dir, const ControlFile& control, const PageScanReport& pages, WalOutcomes* out,
             XactEvidence* e) {
  const ControlLayout& layout = control.layout();
  if (!layout.rules().xact_record_xinfo) {
    e->warnings.push_back(fmt::format("WAL not read: PostgreSQL {}'s commit records are not decoded; the "
                                      "decisions rest on the pages",
                                      layout.major()));
    return;
  }
  WalScanOptions o;
  o.layout = &layout;
  o.segment_size = control.value(Field::kWalSegmentSize);
  o.page_size = static_cast<uint32_t>(control.value(Field::kWalBlockSize));
  o.listings = WalListings(dir);
  o.system_identifier = control.value(Field::kSystemIdentifier);
  o.mode = WalScanMode::kFull;
  o.each_record = [&](const WalRecord& r) {
    auto outcome = DecodeXactOutcome(layout, r);
    if (!outcome) return;
    out->prepared_subxacts_unknown |= outcome->subxacts_unknown;
    for (uint32_t xid : outcome->xids) out->said[xid] = outcome->kind;
  };
  auto report = ScanWal(o);
  if (!report) {
    e->warnings.push_back("WAL not read: " + report.error().ToString());
    return;
  }
  e->read.push_back(fmt::format("WAL from {} to {} ({}), {} records, {} outcome(s) of transactions",
                                FormatLsn(report->validated_from), FormatLsn(report->end.at),
                                WalStopName(report->end.why), report->records, out->said.size()));
  if (auto newest = report->maxima.newest_xid; newest && Follows32(*newest + 1, e->next_xid)) {
    e->next_xid = *newest + 1;
  }
  // Silence proves "not committed" only over WAL read without a break from a
  // checkpoint's redo point, with no page newer than its end.
  const bool unbroken = report->breaks.empty() && !(pages.max && pages.max->lsn > report->end.at) &&
                        !out->prepared_subxacts_unknown;
  for (const auto& c : report->checkpoints) {
    if (!unbroken || Lsn{c.record.redo()} < report->validated_from) continue;
    ControlFile body(layout);
    c.record.ApplyTo(&body);
    out->complete_from = static_cast<uint32_t>(body.value(Field::kNextXid));
    e->read.push_back(fmt::format("WAL is complete from the checkpoint at {}: an XID from {} on with no commit "
                                  "record did not commit",
                                  FormatLsn(c.record.lsn), *out->complete_from));
    break;
  }
  if (!out->complete_from) {
    e->read.push_back(unbroken ? "WAL holds no checkpoint whose redo point was read: its silence proves nothing"
                               : "WAL has breaks, pages newer than its end, or a prepared transaction whose "
                                          "subtransactions could not be read: its silence proves nothing");
  }
}

// Transactions still prepared, with their subtransactions, from pg_twophase's
// state files (named by XID: 8 hex digits, or 16 with the epoch from 17). A
// file that does not read leaves its subtransactions unknown: then no
// silence of WAL is trusted.
std::set<uint32_t> ReadTwoPhase(const DataDir& dir, const ControlLayout& layout, WalOutcomes* wal, XactEvidence* e) {
  std::set<uint32_t> prepared;
  const std::string path = dir.root + "/pg_twophase";
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return prepared;
  while (const dirent* entry = readdir(d)) {
    const std::string name = entry->d_name;
    if ((name.size() != 8 && name.size() != 16) || name.find_first_not_of("0123456789ABCDEF") != std::string::npos) {
      continue;
    }
    const auto xid = static_cast<uint32_t>(std::stoull(name.substr(name.size() - 8), nullptr, 16));
    std::vector<uint8_t> bytes;
    std::optional<std::vector<uint32_t>> xids;
    // A state file holds a record of at most 1 GB (MaxAllocSize), as the server reads it.
    if (AppendFileBytes(path + "/" + name, &bytes, uint64_t{1} << 30)) xids = TwoPhaseStateXids(layout, bytes, xid);
    if (!xids) {
      wal->prepared_subxacts_unknown = true;
      e->warnings.push_back(fmt::format("pg_twophase/{}: not a readable two-phase state file; its "
                                        "subtransactions are unknown",
                                        name));
      xids = std::vector<uint32_t>{xid};
    }
    prepared.insert(xids->begin(), xids->end());
  }
  closedir(d);
  if (!prepared.empty()) e->read.push_back(fmt::format("pg_twophase: {} prepared XID(s)", prepared.size()));
  return prepared;
}

XidDecision Decide(XidDecision d) {
  if (d.contradiction()) {
    d.verdict = XactVerdict::kUnknown;
  } else if (d.committed_by != 0) {
    d.verdict = XactVerdict::kCommitted;
  } else if (d.aborted_by != 0) {
    d.verdict = XactVerdict::kAborted;
  } else {
    d.prepared = d.prepared_by != 0;
    d.verdict = d.prepared ? XactVerdict::kInProgress : XactVerdict::kUnknown;
  }
  return d;
}

}  // namespace

std::string_view XactSourceName(uint8_t source) {
  switch (source) {
    case xact_source::kWal: return "wal";
    case xact_source::kWalAbsent: return "wal_absent";
    case xact_source::kPgXact: return "pg_xact";
    case xact_source::kCommitTs: return "commit_ts";
    case xact_source::kHintBits: return "hint_bits";
    case xact_source::kAllVisible: return "all_visible";
    case xact_source::kTwoPhase: return "pg_twophase";
    default: return "?";
  }
}

std::string_view XactVerdictName(XactVerdict verdict) {
  switch (verdict) {
    case XactVerdict::kCommitted: return "committed";
    case XactVerdict::kAborted: return "aborted";
    case XactVerdict::kInProgress: return "in progress";
    case XactVerdict::kUnknown: return "unknown";
  }
  return "?";
}

Result<XactEvidence> GatherXactEvidence(const DataDir& dir, const ControlFile& control, unsigned jobs) {
  XactEvidence e;
  const ControlLayout& layout = control.layout();
  e.oldest_xid = static_cast<uint32_t>(control.value(Field::kOldestXid));
  e.next_xid = static_cast<uint32_t>(control.value(Field::kNextXid));

  PageScanOptions po = PageScanOptionsFor(dir, &control);
  po.jobs = jobs;
  po.collect_xids = true;
  auto pages = ScanPageLsns(po);
  if (!pages) return pages.error();
  e.read.push_back(fmt::format("{} page(s) in {} relation file(s), {} tuple(s)", pages->pages, pages->files,
                               pages->tuples.tuples));
  if (pages->invalid_pages > 0) {
    e.warnings.push_back(fmt::format("{} damaged page(s) were not read: their tuples' XIDs are not counted",
                                     pages->invalid_pages));
  }
  if (auto newest = pages->tuples.newest_xid; newest && Follows32(*newest + 1, e.next_xid)) e.next_xid = *newest + 1;

  WalOutcomes wal;
  const std::set<uint32_t> twophase = ReadTwoPhase(dir, layout, &wal, &e);
  ReadWal(dir, control, *pages, &wal, &e);

  const auto block_size = static_cast<uint32_t>(control.value(Field::kBlockSize));
  XactStatusReader xact(dir.root, layout, block_size);
  CommitTsReader commit_ts(dir.root, layout, block_size);
  const bool has_commit_ts = control.has(Field::kOldestCommitTsXid) && control.value(Field::kOldestCommitTsXid) != 0;
  const auto ts_oldest = static_cast<uint32_t>(control.value(Field::kOldestCommitTsXid));
  const auto ts_newest = static_cast<uint32_t>(control.value(Field::kNewestCommitTsXid));

  // XID -> tuple claims, or nullopt for an XID only WAL mentions.
  std::map<uint32_t, std::optional<uint8_t>> seen;
  for (const auto& [xid, bits] : pages->xids.claims) seen[xid] = bits;
  for (const auto& [xid, kind] : wal.said) seen.try_emplace(xid, std::nullopt);
  for (uint32_t xid : twophase) seen.try_emplace(xid, std::nullopt);
  for (const auto& [xid, tuple_claims] : seen) {
    if (xid < kFirstNormalXid) continue;
    const uint8_t claims = tuple_claims.value_or(0);
    XidDecision d;
    d.referenced = tuple_claims.has_value();
    d.needed = (claims & xid_claim::kNeeded) != 0;
    const auto status = xact.Status(xid);
    if (status) {
      d.from_pg_xact = true;
      d.verdict = status == XactStatus::kCommitted ? XactVerdict::kCommitted
                  : status == XactStatus::kAborted ? XactVerdict::kAborted
                                                   : XactVerdict::kInProgress;
      (d.verdict == XactVerdict::kCommitted ? d.committed_by : d.aborted_by) |= xact_source::kPgXact;
      e.decisions.emplace(xid, d);
      continue;
    }
    if (claims & xid_claim::kHintCommitted) d.committed_by |= xact_source::kHintBits;
    if (claims & xid_claim::kAllVisibleCommitted) d.committed_by |= xact_source::kAllVisible;
    if (claims & xid_claim::kHintAborted) d.aborted_by |= xact_source::kHintBits;
    if (claims & xid_claim::kAllVisibleAborted) d.aborted_by |= xact_source::kAllVisible;
    if (auto it = wal.said.find(xid); it != wal.said.end()) {
      if (it->second == XactOutcomeKind::kCommit) d.committed_by |= xact_source::kWal;
      if (it->second == XactOutcomeKind::kAbort) d.aborted_by |= xact_source::kWal;
      if (it->second == XactOutcomeKind::kPrepare) d.prepared_by |= xact_source::kWal;
    }
    if (twophase.count(xid) && !(d.committed_by & xact_source::kWal) && !(d.aborted_by & xact_source::kWal)) {
      d.prepared_by |= xact_source::kTwoPhase;
    } else if (wal.said.count(xid) == 0 && wal.complete_from && !Precedes32(xid, *wal.complete_from) &&
               Precedes32(xid, e.next_xid)) {
      d.aborted_by |= xact_source::kWalAbsent;
    }
    if (has_commit_ts && !Precedes32(xid, ts_oldest) && !Follows32(xid, ts_newest)) {
      if (auto ts = commit_ts.Timestamp(xid); ts && *ts != 0) d.committed_by |= xact_source::kCommitTs;
    }
    e.decisions.emplace(xid, Decide(d));
  }
  e.shapes = std::move(pages->shapes);
  return e;
}

}  // namespace pgrescue
