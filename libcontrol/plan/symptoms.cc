#include "libcontrol/plan/symptoms.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "libcontrol/plan/backup_origin.h"

namespace pgrescue {
namespace {

using Verdict = SymptomVerdict;

struct Judgement {
  Verdict verdict = Verdict::kUnconfirmed;
  std::vector<std::string> evidence;
  void Say(Verdict v, std::string line) {
    verdict = v;
    evidence.push_back(std::move(line));
  }
};

void DirectoryInUse(const PlanEvidence& e, Judgement* j) {
  const LiveCheck& live = e.dir->live;
  for (const auto& line : live.Describe()) j->evidence.push_back(line);
  if (const auto says = live.PostgresWouldSay(); !says.empty()) {
    j->Say(Verdict::kConfirmed, "a server started now would still stop with \"" + says + "\"");
  } else if (live.in_use()) {
    j->verdict = Verdict::kConfirmed;
  } else if (live.limits.empty()) {
    j->Say(Verdict::kRefuted, e.dir->postmaster_pid ? "postmaster.pid names no running process and no shared "
                                                      "memory is attached: a server started now removes it"
                                                    : "no postmaster.pid, no attached shared memory, no process "
                                                      "uses the directory");
  }
}

void ControlDamaged(const PlanEvidence& e, Judgement* j) {
  j->Say(e.trust.ok() ? Verdict::kRefuted : Verdict::kConfirmed,
         e.trust.ok() ? "global/pg_control is present, its CRC matches and its values are plausible now"
                      : e.trust.why);
}

void NoCheckpoint(const PlanEvidence& e, Judgement* j) {
  if (!e.trust.ok()) {
    j->Say(Verdict::kUnconfirmed, "pg_control cannot be trusted, so its checkpoint cannot be looked for");
  } else if (e.crash_recovery_works) {
    j->Say(Verdict::kRefuted, fmt::format("WAL holds pg_control's checkpoint {} and everything from its redo point",
                                          FormatLsn(Lsn{e.Pc(Field::kCheckPoint)})));
  } else {
    j->Say(Verdict::kConfirmed, e.control_problem);
  }
}

void CanceledBackup(const PlanEvidence& e, Judgement* j) {
  j->evidence = e.backup.evidence;
  if (JudgeBackupOrigin(e).crashed_primary) {
    j->Say(Verdict::kRefuted, "backup_label was left by this primary's crash, not by a copy (see crashed-in-backup)");
  } else if (e.backup.recovering) {
    j->verdict = Verdict::kConfirmed;
  } else if (e.trust.ok()) {
    j->Say(Verdict::kRefuted, "neither backup_label nor pg_control's backup fields say a backup's recovery is "
                              "unfinished");
  }
}

void CrashedInBackup(const PlanEvidence& e, Judgement* j) {
  const BackupOrigin o = JudgeBackupOrigin(e);
  j->evidence = o.evidence;
  if (o.crashed_primary) {
    j->verdict = Verdict::kConfirmed;
  } else if (!e.backup.label) {
    j->Say(Verdict::kRefuted, "no readable backup_label");
  } else {
    j->Say(Verdict::kUnconfirmed, "not shown to be the primary: " + o.doubt);
  }
}

void UnfinishedCopy(const PlanEvidence& e, Judgement* j) {
  if (e.backup.copy_unfinished) {
    j->Say(Verdict::kConfirmed, "backup_label is there and global/pg_control is not: pg_basebackup sends it last");
  } else {
    j->Say(Verdict::kRefuted, e.dir->backup_label ? "global/pg_control is present" : "there is no backup_label");
  }
}

// What each judge may read: the evidence, the plan's pg_xact coverage
// finding, and the log messages that named the class.
struct JudgeInput {
  const PlanEvidence& e;
  const std::optional<std::string>& xact_missing;
  const std::vector<LogMessage>& messages;
};

void XactMissing(const JudgeInput& in, Judgement* j) {
  if (in.xact_missing) {
    j->Say(Verdict::kConfirmed, *in.xact_missing);
  } else if (in.e.trust.ok()) {
    j->Say(Verdict::kRefuted, "pg_xact and pg_multixact cover every ID from pg_control's oldest to its next");
  }
  // Crash recovery that found a pg_xact file missing made it up from zeroes
  // (10-18 alike): coverage looks whole now, and the rows of those
  // transactions read as never committed.
  const bool zeroed = std::any_of(in.messages.begin(), in.messages.end(), [](const LogMessage& m) {
    return m.text.ends_with("doesn't exist, reading as zeroes");
  });
  if (zeroed && j->verdict == Verdict::kRefuted) {
    j->Say(Verdict::kConfirmed, "the server's recovery wrote the missing pg_xact pages as zeroes: their "
                                "transactions now read as not committed and their rows are invisible, without an "
                                "error; restore pg_xact from a backup of this cluster before anything writes more");
  }
}

// A read error at the end of WAL is how every crash recovery ends; it marks
// damage only when written WAL lies past it.
void WalDamaged(const PlanEvidence& e, Judgement* j) {
  if (!e.wal) {
    j->Say(Verdict::kUnconfirmed, "WAL could not be read");
    return;
  }
  const WalScanReport& w = *e.wal;
  j->evidence.push_back(fmt::format("valid WAL ends at {} ({}): {}", FormatLsn(w.end.at), WalStopName(w.end.why),
                                    w.end.detail));
  if (w.past_end) {
    j->Say(Verdict::kConfirmed, "WAL was written past that point: " + DescribeWalPastEnd(*w.past_end, w.end));
  } else if (!w.breaks.empty()) {
    j->Say(Verdict::kConfirmed, fmt::format("{} break(s) before the end where reading resumed later",
                                            w.breaks.size()));
  } else if (w.end.why == WalStop::kEndOfWal || e.crash_recovery_works) {
    j->Say(Verdict::kRefuted, "nothing readable lies past that point: it is the end of WAL, where every crash "
                              "recovery stops");
  }
}

void SystemIdDiffers(const PlanEvidence& e, Judgement* j) {
  if (!e.wal || !e.trust.ok()) {
    j->Say(Verdict::kUnconfirmed, "WAL's system identifiers are compared only with a trusted pg_control's");
  } else if (e.wal->end.detail.starts_with("WAL file is from different database system")) {
    j->Say(Verdict::kConfirmed, fmt::format("at {}: {}", FormatLsn(e.wal->end.at), e.wal->end.detail));
  } else {
    j->Say(Verdict::kRefuted, fmt::format("every WAL file read up to {} carries pg_control's system identifier",
                                          FormatLsn(e.wal->end.at)));
  }
}

void WalGone(const PlanEvidence& e, Judgement* j) {
  if (e.dir->standby) {
    // Its own WAL may be whole: what is gone is the primary's next WAL.
    j->Say(Verdict::kConfirmed, fmt::format("this is a standby ({}); its WAL ends at {}, and what follows must come "
                                            "from its primary or the primary's archive",
                                            e.dir->standby_signal ? "standby.signal" : "recovery.conf standby_mode",
                                            e.wal ? FormatLsn(e.wal->end.at) : std::string("?")));
  } else if (e.crash_recovery_works) {
    j->Say(Verdict::kRefuted, "every WAL file from pg_control's redo point on is here (or in the archives given)");
  } else if (e.wal && e.wal->end.why == WalStop::kMissingSegment) {
    j->Say(Verdict::kConfirmed, fmt::format("WAL stops at {}: {}", FormatLsn(e.wal->end.at), e.wal->end.detail));
  } else if (e.wal) {
    j->evidence.push_back(fmt::format("valid WAL ends at {} ({})", FormatLsn(e.wal->end.at),
                                      WalStopName(e.wal->end.why)));
  }
}

void PageDamaged(const PlanEvidence& e, Judgement* j) {
  if (e.pages.invalid_pages > 0) {
    j->Say(Verdict::kConfirmed, fmt::format("{} page(s) fail their header or checksum check now",
                                            e.pages.invalid_pages));
    for (const auto& line : e.pages.DamagedExamples(5)) j->evidence.push_back(line);
  } else if (e.pages_complete && e.trust.ok()) {
    j->Say(Verdict::kRefuted, fmt::format("all {} data pages pass their header and checksum checks (TOAST and "
                                          "catalog contents are not judged here: run pgrescue-check)",
                                          e.pages.pages));
  }
}

void Wraparound(const PlanEvidence& e, Judgement* j) {
  if (const auto wrap = JudgeXidWrap(e)) j->Say(wrap->near ? Verdict::kConfirmed : Verdict::kRefuted, wrap->line);
}

using Judge = void (*)(const JudgeInput&, Judgement*);

// Each class's judge, by its code (failure_catalogue.h).
const std::map<std::string_view, Judge>& Judges() {
  static const std::map<std::string_view, Judge> judges{
      {"directory-in-use", [](const JudgeInput& in, Judgement* j) { DirectoryInUse(in.e, j); }},
      {"control-damaged", [](const JudgeInput& in, Judgement* j) { ControlDamaged(in.e, j); }},
      {"no-checkpoint", [](const JudgeInput& in, Judgement* j) { NoCheckpoint(in.e, j); }},
      {"canceled-backup", [](const JudgeInput& in, Judgement* j) { CanceledBackup(in.e, j); }},
      {"crashed-in-backup", [](const JudgeInput& in, Judgement* j) { CrashedInBackup(in.e, j); }},
      {"unfinished-copy", [](const JudgeInput& in, Judgement* j) { UnfinishedCopy(in.e, j); }},
      {"xact-missing", XactMissing},
      {"wal-gone", [](const JudgeInput& in, Judgement* j) { WalGone(in.e, j); }},
      {"wal-damaged", [](const JudgeInput& in, Judgement* j) { WalDamaged(in.e, j); }},
      {"system-id-differs", [](const JudgeInput& in, Judgement* j) { SystemIdDiffers(in.e, j); }},
      {"page-damaged", [](const JudgeInput& in, Judgement* j) { PageDamaged(in.e, j); }},
      {"wraparound", [](const JudgeInput& in, Judgement* j) { Wraparound(in.e, j); }},
  };
  return judges;
}

}  // namespace

std::string_view SymptomVerdictName(SymptomVerdict v) {
  switch (v) {
    case SymptomVerdict::kConfirmed: return "confirmed";
    case SymptomVerdict::kRefuted: return "refuted";
    case SymptomVerdict::kUnconfirmed: return "unconfirmed";
  }
  return "?";
}

std::vector<Diagnosis> Diagnose(const std::vector<ServerLog>& logs, const PlanEvidence& e,
                                const std::optional<std::string>& xact_missing) {
  std::vector<Diagnosis> out;
  for (const FailureClass& c : FailureCatalogue()) {
    Diagnosis d;
    d.failure = &c;
    for (const ServerLog& log : logs) {
      bool named = false;
      for (const LogMessage& m : log.messages) {
        if (!NamesClass(c, m)) continue;
        d.messages.push_back(m);
        named = true;
      }
      if (named) d.sources.push_back(log.source);
    }
    if (d.messages.empty()) continue;
    Judgement j;
    if (const auto judge = Judges().find(c.code); judge != Judges().end()) {
      judge->second(JudgeInput{e, xact_missing, d.messages}, &j);
    }
    d.verdict = j.verdict;
    d.evidence = std::move(j.evidence);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace pgrescue
