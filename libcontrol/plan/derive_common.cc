#include "libcontrol/plan/derive_common.h"

#include <algorithm>

#include <fmt/format.h>

#include "libcontrol/base/id_order.h"

namespace pgrescue {
namespace {

// Where an ID stands relative to the start of the run, counting forward
// through wraparound; IDs before a 64-bit run's start are "infinitely" far.
uint64_t Distance(const SlruEvidence& s, uint64_t id) {
  const uint64_t start = s.layout->FirstIdOf(s.run->first);
  if (s.layout->id_space()) return (id - start) & (*s.layout->id_space() - 1);
  return id >= start ? id - start : UINT64_MAX;
}

bool SegmentPresent(const SlruEvidence& s, uint64_t segment) {
  return s.Bytes(segment) > 0;
}

}  // namespace

PlannedValue NewValue(std::string option, std::string long_option, std::string what) {
  return {std::move(option), std::move(long_option), std::move(what), {}, {}, Confidence::kHigh, true};
}

uint64_t NextBoundary(const SlruEvidence& s) {
  uint64_t next = s.run->last + 1;
  if (s.layout->segment_count() && next == *s.layout->segment_count()) next = 0;
  return s.layout->FirstIdOf(next);
}

uint64_t LaterNext(const SlruEvidence& s, uint64_t derived, uint64_t pc, const char* label, PlannedValue* v) {
  const uint64_t d = Distance(s, derived), p = Distance(s, pc);
  if (p <= d) {
    v->reasoning.push_back(fmt::format("pg_control says {} {}; using {}, the start of a segment the server "
                                       "will create fresh", label, pc, derived));
    return derived;
  }
  if (p - d < s.layout->entries_per_segment()) {
    v->reasoning.push_back(fmt::format("pg_control says {} {}, later, in a segment not created yet; using it",
                                       label, pc));
    return pc;
  }
  v->reasoning.push_back(fmt::format("pg_control says {} {}, which is not near what the files hold; "
                                     "trusting the files", label, pc));
  v->confidence = Confidence::kMedium;
  return derived;
}

uint64_t OldestWithin(const SlruEvidence& s, uint64_t start, uint64_t next, uint64_t pc, const char* label,
                      PlannedValue* v) {
  if (Distance(s, pc) < Distance(s, next)) {
    v->reasoning.push_back(fmt::format("pg_control says {} {}, inside the run; keeping it", label, pc));
    return pc;
  }
  v->reasoning.push_back(fmt::format("pg_control says {} {}, outside the run; using the run's start", label, pc));
  v->confidence = Confidence::kMedium;
  return start;
}

std::string RunText(const SlruEvidence& s) {
  return fmt::format("{} holds segments {}–{} ({} segment{}{}, {} {} each)", s.dir, s.layout->FileName(s.run->first),
                     s.layout->FileName(s.run->last), s.run->length, s.run->length == 1 ? "" : "s",
                     s.run->wraps ? ", wrapping around" : "", s.layout->entries_per_segment(),
                     s.layout->kind() == SlruKind::kMultiXactOffsets   ? "MultiXacts"
                     : s.layout->kind() == SlruKind::kMultiXactMembers ? "members"
                                                                        : "XIDs");
}

namespace {

uint64_t AtLeast(const WalBound& bound, const char* agrees, const char* proves_more, uint64_t chosen,
                 const SlruEvidence* s, PlannedValue* v) {
  if (!Follows32(bound.next, chosen) && bound.next != chosen) {
    v->reasoning.push_back(fmt::format("{}: {}, not past {}", agrees, bound.why, chosen));
    return chosen;
  }
  if (bound.next == chosen) return chosen;
  uint64_t raised = bound.next;
  if (s != nullptr && s->layout) {
    const uint64_t per = s->layout->entries_per_segment();
    raised = ((raised + per - 1) / per * per) & 0xFFFFFFFFu;
  }
  v->reasoning.push_back(fmt::format("{}: {}; using {}", proves_more, bound.why, raised));
  return raised;
}

}  // namespace

uint64_t AtLeastWal(const std::optional<WalBound>& bound, uint64_t chosen, const SlruEvidence* s, PlannedValue* v) {
  return bound ? AtLeast(*bound, "WAL agrees", "WAL proves more", chosen, s, v) : chosen;
}

uint64_t AtLeastPages(std::optional<uint32_t> newest, const std::string& where, const char* what,
                      uint64_t first_normal, uint64_t chosen, const SlruEvidence* s, PlannedValue* v) {
  if (!newest) return chosen;
  uint64_t next = (uint64_t{*newest} + 1) & 0xFFFFFFFFu;
  if (next < first_normal) next = first_normal;  // past the wrap, the special IDs are skipped
  const WalBound bound{next, fmt::format("a tuple on {} carries {} {}", where, what, *newest)};
  return AtLeast(bound, "the data pages agree", "the data pages prove more", chosen, s, v);
}

uint64_t ReadableStart(const SlruEvidence& s, uint64_t next, PlannedValue* v) {
  if (!s.layout || next % s.layout->entries_per_segment() == 0) return next;
  const uint64_t segment = s.layout->SegmentOf(next);
  if (SegmentPresent(s, segment)) return next;
  uint64_t boundary = s.layout->FirstIdOf(segment + 1);
  if (s.layout->id_space()) boundary &= *s.layout->id_space() - 1;
  v->reasoning.push_back(fmt::format("{} is missing, and the server reads the page holding {} when it starts: "
                                     "using the next segment boundary, {}",
                                     s.dir + "/" + s.layout->FileName(segment), next, boundary));
  return boundary;
}

bool NoTupleNeeds(const PlanEvidence& e, const SlruEvidence& s, uint64_t lo, uint64_t hi) {
  const TupleEvidence& t = e.pages.tuples;
  if (!s.layout || s.layout->kind() != SlruKind::kXact || !e.pages_complete || e.pages.files == 0 ||
      t.tuples == 0 || t.newest_multixact) {
    return false;
  }
  for (const auto& [key, span] : t.xid_spans) {
    if (span.first < hi && span.second >= lo) return false;  // some XID may lie in [lo, hi)
  }
  return true;
}

HoleSplit SplitHoles(const PlanEvidence& e, const SlruEvidence& s) {
  HoleSplit out;
  if (!s.run) return out;
  auto add = [](std::vector<SegmentSpan>* to, uint64_t segment) {
    if (!to->empty() && to->back().first + to->back().count == segment) {
      ++to->back().count;
    } else {
      to->push_back({segment, 1});
    }
  };
  const auto& l = *s.layout;
  for (const SegmentSpan& hole : s.run->holes) {
    // Only pg_xact's holes can be cleared, one segment at a time (it has at
    // most 32,768, with 1 kB pages); the others' are needed whole (19's
    // members can miss 2^60).
    if (l.kind() != SlruKind::kXact) {
      out.needed.push_back(hole);
      continue;
    }
    for (uint64_t segment = hole.first; segment < hole.first + hole.count; ++segment) {
      const uint64_t first = l.FirstIdOf(segment);
      add(NoTupleNeeds(e, s, first, first + l.entries_per_segment()) ? &out.cleared : &out.needed, segment);
    }
  }
  return out;
}

std::string SegmentRanges(const SlruEvidence& s, const std::vector<SegmentSpan>& spans) {
  std::string out;
  for (const SegmentSpan& span : spans) {
    out += (out.empty() ? "" : ", ") + s.layout->FileName(span.first);
    if (span.count > 1) out += "–" + s.layout->FileName(span.first + span.count - 1);
  }
  return out;
}

uint64_t MissingIds(const SlruEvidence& s, uint32_t block_size, uint64_t oldest, uint64_t next,
                    std::vector<std::string>* names, const PlanEvidence* e) {
  const auto& l = *s.layout;
  const uint64_t last = (next - 1) & 0xFFFFFFFFu;
  const uint64_t first_seg = l.SegmentOf(oldest), last_seg = l.SegmentOf(last);
  const uint64_t count = l.segment_count().value_or(UINT64_MAX);
  uint64_t missing = 0;
  for (uint64_t seg = first_seg;; seg = (seg + 1) % count) {
    const uint64_t lo = seg == first_seg ? oldest : l.FirstIdOf(seg);
    const uint64_t hi = seg == last_seg ? last + 1 : l.FirstIdOf(seg) + l.entries_per_segment();
    const uint64_t pages = s.Bytes(seg) / block_size;
    const uint64_t present_end = l.FirstIdOf(seg) + pages * l.entries_per_page();
    if (present_end < hi && !(e != nullptr && NoTupleNeeds(*e, s, std::max(lo, present_end), hi))) {
      missing += hi - std::max(lo, present_end);
      names->push_back(l.FileName(seg) + (pages == 0 ? "" : fmt::format(" (only {} page(s))", pages)));
    }
    if (seg == last_seg) break;
  }
  return missing;
}

std::string NameList(const std::vector<std::string>& names) {
  std::string list;
  for (size_t i = 0; i < names.size() && i < 8; ++i) list += (i ? ", " : "") + names[i];
  if (names.size() > 8) list += fmt::format(" and {} more", names.size() - 8);
  return list;
}

}  // namespace pgrescue
