#include "libcontrol/plan/planner.h"

#include <algorithm>
#include <bit>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "libcontrol/cluster/backup.h"
#include "libcontrol/cluster/control_trust.h"
#include "libcontrol/control/control_text.h"
#include "libcontrol/base/id_order.h"
#include "libcontrol/slru/slru.h"
#include "libcontrol/slru/slru_run.h"
#include "libcontrol/base/wal_names.h"
#include "libcontrol/wal/wal_scan.h"
#include "libcontrol/wal/wal_record.h"

namespace pgrescue {
namespace {

constexpr uint32_t kFirstNormalXid = 3;
constexpr uint32_t kFirstMultiXactId = 1;
constexpr uint64_t kOidPrefetch = 8192;        // VAR_OID_PREFETCH: OIDs logged ahead of use
constexpr uint64_t kFirstNormalObjectId = 16384;
constexpr uint32_t kDefaultBlockSize = 8192;
constexpr uint64_t kDefaultWalSegmentSize = 16u << 20;

std::string Hex(uint64_t v) { return fmt::format("0x{:X}", v); }

struct Slru {
  std::optional<SlruLayout> layout;
  std::optional<SlruRun> run;
  std::map<uint64_t, uint64_t> sizes;  // segment -> bytes
  std::vector<std::string> unknown;
  std::string dir;                     // relative name for messages
};

class Planner {
 public:
  Planner(const DataDir& dir, const ControlLayout& layout, const PlanOptions& options, Plan* plan)
      : dir_(dir), layout_(layout), options_(options), plan_(*plan) {}

  // Evidence first (who uses the directory, pg_control, WAL, backup state,
  // data pages, SLRUs), then the values a reset would need, then the
  // remedies ranked by what each loses.
  void Run() {
    ReadControl();
    NoteFound();
    CheckLiveness();
    CheckControl();
    ChooseSizes();
    ReadWal();
    ReadPages();
    ScanSlrus();
    NextXid();
    OldestXid();
    CheckXactCoverage();
    MultiXacts();
    MultiXactOffset();
    CommitTs();
    NextOid();
    WalStart();
    Epoch();
    Command();
    Remedies();
    for (const auto& l : dir_.live.limits) Inform("liveness-unchecked", "could not check every process: " + l);
  }

 private:
  void Decide(std::string code, std::string message) {
    plan_.hazards.push_back({std::move(code), std::move(message), true});
  }
  void Inform(std::string code, std::string message) {
    plan_.hazards.push_back({std::move(code), std::move(message), false});
  }
  std::string Rel(const std::string& path) const {
    return std::filesystem::path(path).lexically_relative(dir_.root).string();
  }
  uint64_t Pc(Field f) const { return control_->value(f); }

  void ReadControl() {
    control_ = JudgeControl(dir_, &layout_).trusted;
  }

  void NoteFound() {
    auto& f = plan_.found;
    f.push_back(fmt::format("PG_VERSION: {}", dir_.pg_version ? *dir_.pg_version : "missing"));
    if (!dir_.control_present) {
      f.push_back("global/pg_control: missing");
    } else if (!dir_.control->ok()) {
      f.push_back(fmt::format("global/pg_control: unusable: {}", dir_.control->error().message));
    } else {
      const auto& read = dir_.control->value();
      const auto& c = read.control;
      f.push_back(fmt::format("global/pg_control: PostgreSQL {} layout, CRC {}, state \"{}\", checkpoint {} "
                              "(REDO {}, timeline {})",
                              c.layout().major(), read.crc_ok() ? "ok" : "MISMATCH",
                              DbStateText(c.value(Field::kState)),
                              FormatLsn({c.value(Field::kCheckPoint)}, c.layout().text().lsn_style),
                              FormatLsn({c.value(Field::kRedo)}, c.layout().text().lsn_style),
                              c.value(Field::kThisTimeLineId)));
    }
    auto count_files = [](const DirListing& l) {
      return std::count_if(l.entries.begin(), l.entries.end(), [](const DirEntry& e) { return !e.is_dir; });
    };
    f.push_back(fmt::format("{}: {}", Rel(dir_.wal.path),
                            dir_.wal.exists ? fmt::format("{} files", count_files(dir_.wal)) : "missing"));
    for (const auto& a : dir_.wal_archives) {
      f.push_back(fmt::format("WAL archive {}: {}", a.path,
                              a.exists ? fmt::format("{} files", count_files(a)) : "missing"));
    }
    f.push_back(fmt::format("relation files: {}; largest OID among them, databases and tablespaces: {}",
                            dir_.relation_files,
                            dir_.max_relation_oid ? fmt::format("{} ({})", *dir_.max_relation_oid,
                                                                Rel(dir_.max_relation_oid_path))
                                                  : "none"));
    for (const auto& [name, value] : dir_.settings) f.push_back(fmt::format("setting {} = {}", name, value));
  }

  void CheckLiveness() {
    const LiveCheck& live = dir_.live;
    if (live.in_use()) {
      std::string list;
      for (const auto& u : live.Describe()) list += (list.empty() ? "" : "; ") + u;
      const std::string server = live.PostgresWouldSay();
      Decide(live.postmaster_alive ? "live-postmaster" : "directory-in-use",
             fmt::format("the data directory is still in use: {}.{} Stop the server (pg_ctl stop) or wait for "
                         "these processes to end; nothing may be changed while they run, or what they still "
                         "write is lost",
                         list, server.empty() ? "" : " PostgreSQL itself would refuse to start: \"" + server + "\"."));
    } else if (dir_.postmaster_pid) {
      const std::string first_line = live.pid_file ? live.pid_file->text_first_line : "";
      Inform("stale-postmaster-pid",
             fmt::format("postmaster.pid names PID {}, which is not running, and no process uses the directory or "
                         "its shared memory: a lock file left by a crash. The server replaces it when it starts; "
                         "pg_resetwal refuses while it exists",
                         first_line.empty() ? "(unreadable)" : first_line));
    }
    if (dir_.backup_label) {
      Decide("backup-label",
             "backup_label exists: this is a base backup, or a server that crashed during an exclusive "
             "backup. Recovering it with its WAL (restore_command or the WAL from the backup) keeps all "
             "data; a reset does not. If you reset anyway, rename backup_label to backup_label.old first");
    }
    if (dir_.tablespace_map) Inform("tablespace-map", "tablespace_map exists: it belongs to a base backup");
    if (dir_.recovery_signal || dir_.standby_signal || dir_.recovery_conf) {
      Inform("recovery-config",
             fmt::format("{} present: the server would start in recovery; remove it after a reset unless "
                         "archive recovery is what you want",
                         dir_.recovery_conf ? "recovery.conf" : dir_.standby_signal ? "standby.signal"
                                                                                    : "recovery.signal"));
    }
  }

  void CheckControl() {
    if (!dir_.control_present) {
      Decide("control-missing",
             "global/pg_control is missing: the server cannot start. Every value below comes from the "
             "other files; pg_resetwal then needs an empty global/pg_control (touch it) and -f, and "
             "guesses what is not given");
      Force("pg_control is missing, so pg_resetwal guesses the values not given");
      return;
    }
    if (!dir_.control->ok()) {
      Decide("control-unusable", fmt::format("global/pg_control cannot be read: {}",
                                             dir_.control->error().message));
      Force("pg_control cannot be read, so pg_resetwal guesses the values not given");
      return;
    }
    const auto& read = dir_.control->value();
    if (&read.control.layout() != &layout_) {
      Decide("version-mismatch",
             fmt::format("PG_VERSION says {} but pg_control has PostgreSQL {}'s layout: one of them is "
                         "wrong. Planned for {} (PG_VERSION); pg_control's values are not used",
                         layout_.major(), read.control.layout().major(), layout_.major()));
      Force("pg_control is of another version");
      return;
    }
    for (const auto& f : read.findings) {
      if (f.kind == FindingKind::kCrcMismatch || f.kind == FindingKind::kImplausibleValue) {
        Decide("control-corrupt", "global/pg_control: " + f.message + "; its values are shown but not trusted");
      } else {
        Inform("control-note", "global/pg_control: " + f.message);
      }
    }
    if (!control_) {
      Force("pg_control is damaged, so pg_resetwal treats its values as guessed");
      return;
    }
    const uint64_t state = Pc(Field::kState);
    if (state != static_cast<uint64_t>(DbState::kShutdowned)) {
      Decide("unclean-state",
             fmt::format("pg_control says the cluster is \"{}\", not shut down: the server stopped without "
                         "a shutdown checkpoint. If its WAL is intact, starting it runs crash recovery and "
                         "loses nothing: try that before a reset",
                         DbStateText(state)));
      Force("the cluster was not shut down cleanly");
    }
    if (BackupRecoveryUnfinished(*control_)) {
      Decide("backup-in-progress",
             fmt::format("pg_control records a backup start at {} with {}: the cluster is a restored "
                         "backup whose recovery has not reached the backup's end. Finish recovery with "
                         "the backup's WAL instead of a reset if at all possible",
                         FormatLsn({Pc(Field::kBackupStartPoint)}, layout_.text().lsn_style),
                         Pc(Field::kBackupEndPoint) == 0 ? "no end" : "an end-of-backup record still required"));
    }
  }

  void Force(std::string why) {
    plan_.needs_force = true;
    plan_.force_reasons.push_back(std::move(why));
  }

  void ChooseSizes() {
    if (control_) {
      block_size_ = static_cast<uint32_t>(Pc(Field::kBlockSize));
      block_size_source_ = "pg_control";
      seg_size_ = Pc(Field::kWalSegmentSize);
      seg_size_source_ = "pg_control";
    } else {
      if (const auto size = BlockSizeFromRelation(dir_)) {
        block_size_ = *size;
        block_size_source_ = "the page header of a relation file";
      } else {
        block_size_ = kDefaultBlockSize;
        block_size_source_ = "assumed (no readable pg_control or data page)";
        Decide("block-size-assumed", "the block size could not be read anywhere; 8192 is assumed. A build "
                                     "with another block size makes every SLRU value below wrong");
      }
      ChooseSegmentSizeFromWal();
    }
    plan_.found.push_back(fmt::format("block size {} bytes, from {}; WAL segment size {} bytes, from {}",
                                      block_size_, block_size_source_, seg_size_, seg_size_source_));
  }

  void ChooseSegmentSizeFromWal() {
    const auto dirs = WalListings(dir_);
    std::map<uint64_t, int> by_file_size;
    for (const auto* l : dirs) {
      for (const auto& e : l->entries) {
        if (e.is_dir || e.name.size() != 24) continue;
        // A long page header records the segment size the server used.
        if (auto h = ReadWalLongPageHeader(l->path + "/" + e.name, layout_)) {
          seg_size_ = h->segment_size;
          seg_size_source_ = "the long page header of " + e.name;
          return;
        }
        const uint64_t size = FileSize(*l, e.name);
        if (IsValidWalSegmentSize(size)) ++by_file_size[size];
      }
    }
    if (!by_file_size.empty()) {
      seg_size_ = std::max_element(by_file_size.begin(), by_file_size.end(),
                                   [](auto& a, auto& b) { return a.second < b.second; })->first;
      seg_size_source_ = "the size of the WAL segment files";
      return;
    }
    seg_size_ = kDefaultWalSegmentSize;
    seg_size_source_ = "assumed: the default (no readable pg_control or WAL)";
    Decide("segment-size-assumed", "the WAL segment size could not be read anywhere; 16 MB is assumed. "
                                   "With another size the -l file name is wrong");
  }

  Slru ScanSlru(const DirListing& listing, SlruKind kind) {
    Slru s;
    s.layout.emplace(kind, layout_, block_size_);
    s.dir = Rel(listing.path);
    std::vector<uint64_t> segments;
    for (const auto& e : listing.entries) {
      const auto seg = e.is_dir ? std::nullopt : s.layout->ParseFileName(e.name);
      if (!seg) {
        s.unknown.push_back(e.name);
        continue;
      }
      segments.push_back(*seg);
      s.sizes[*seg] = e.size;
    }
    s.run = FindSlruRun(segments, s.layout->segment_count());
    if (!s.unknown.empty()) {
      std::string names;
      for (size_t i = 0; i < s.unknown.size() && i < 10; ++i) names += (i ? ", " : "") + s.unknown[i];
      if (s.unknown.size() > 10) names += fmt::format(" and {} more", s.unknown.size() - 10);
      Inform("unknown-files", fmt::format("{} holds files that are not {} segments, ignored: {}", s.dir,
                                          SlruKindName(kind), names));
    }
    if (s.run && !s.run->holes.empty()) {
      std::string names;
      for (size_t i = 0; i < s.run->holes.size() && i < 10; ++i) {
        names += (i ? ", " : "") + s.layout->FileName(s.run->holes[i]);
      }
      Decide("slru-holes",
             fmt::format("{} is missing {} segment(s) inside its run {}–{}: {}. The {} they held are lost; "
                         "rows that need them will fail with \"could not access status\" errors",
                         s.dir, s.run->holes.size(), s.layout->FileName(s.run->first),
                         s.layout->FileName(s.run->last), names, SlruKindName(kind)));
    }
    return s;
  }

  void ScanSlrus() {
    xact_ = ScanSlru(dir_.xact, SlruKind::kXact);
    offsets_ = ScanSlru(dir_.multixact_offsets, SlruKind::kMultiXactOffsets);
    members_ = ScanSlru(dir_.multixact_members, SlruKind::kMultiXactMembers);
    if (layout_.Has(Field::kOldestCommitTsXid)) commit_ts_ = ScanSlru(dir_.commit_ts, SlruKind::kCommitTs);
  }

  // The first ID of the segment after the run's newest: where the server
  // starts a fresh segment file.
  static uint64_t NextBoundary(const Slru& s) {
    uint64_t next = s.run->last + 1;
    if (s.layout->segment_count() && next == *s.layout->segment_count()) next = 0;
    return s.layout->FirstIdOf(next);
  }

  // Where an ID stands relative to the start of the run, counting forward
  // through wraparound; IDs before a 64-bit run's start are "infinitely" far.
  static uint64_t Distance(const Slru& s, uint64_t id) {
    const uint64_t start = s.layout->FirstIdOf(s.run->first);
    if (s.layout->id_space()) return (id - start) & (*s.layout->id_space() - 1);
    return id >= start ? id - start : UINT64_MAX;
  }

  // The later of the files' boundary and pg_control's next value: pg_control
  // may be ahead by less than a segment (a segment not yet created). A value
  // further away contradicts the files, which then win.
  static uint64_t LaterNext(const Slru& s, uint64_t derived, uint64_t pc, const char* label, DerivedValue* v) {
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

  // pg_control's oldest value if it lies inside the run, else the run's start.
  static uint64_t OldestWithin(const Slru& s, uint64_t start, uint64_t next, uint64_t pc, const char* label,
                               DerivedValue* v) {
    if (Distance(s, pc) < Distance(s, next)) {
      v->reasoning.push_back(fmt::format("pg_control says {} {}, inside the run; keeping it", label, pc));
      return pc;
    }
    v->reasoning.push_back(fmt::format("pg_control says {} {}, outside the run; using the run's start", label, pc));
    v->confidence = Confidence::kMedium;
    return start;
  }

  std::string RunText(const Slru& s) const {
    return fmt::format("{} holds segments {}–{} ({} segment{}{}, {} {} each)", s.dir,
                       s.layout->FileName(s.run->first), s.layout->FileName(s.run->last), s.run->length,
                       s.run->length == 1 ? "" : "s", s.run->wraps ? ", wrapping around" : "",
                       s.layout->entries_per_segment(),
                       s.layout->kind() == SlruKind::kMultiXactOffsets ? "MultiXacts"
                       : s.layout->kind() == SlruKind::kMultiXactMembers ? "members" : "XIDs");
  }

  DerivedValue& Add(std::string option, std::string long_option, std::string what) {
    plan_.values.push_back({std::move(option), std::move(long_option), std::move(what), {}, {}, Confidence::kHigh, true});
    return plan_.values.back();
  }

  // What WAL proves: whether crash recovery can start from pg_control's
  // checkpoint, which other checkpoint it could start from (never one newer
  // than a backup's start), and what every counter must reach.
  void ReadWal() {
    backup_ = JudgeBackup(dir_, control_);
    WalScanOptions o;
    o.layout = &layout_;
    o.segment_size = seg_size_;
    o.page_size = control_ ? static_cast<uint32_t>(Pc(Field::kWalBlockSize)) : kDefaultBlockSize;
    o.listings = WalListings(dir_);
    const bool has_pc = control_ != nullptr;
    const Lsn pc{has_pc ? Pc(Field::kCheckPoint) : 0};
    auto report = ScanWalJudging(o, {has_pc ? std::optional<Lsn>(pc) : std::nullopt, backup_.newest_start});
    if (!report) return;
    wal_ = std::move(*report);
    proof_ = ProveFromWal(*wal_, layout_);
    const auto* newest = wal_->NewestUsable();
    plan_.found.push_back(fmt::format("WAL: {} segment(s); valid WAL ends at {} ({}); newest usable checkpoint {}",
                                      wal_->segments_present, FormatLsn(wal_->end.at), WalStopName(wal_->end.why),
                                      newest ? FormatLsn(newest->record.lsn) : "none"));
    for (const auto& e : backup_.evidence) plan_.found.push_back(e);
    crash_recovery_works_ = has_pc && RecoverableFrom(pc);
    // A shut-down server starts without replaying anything and writes new WAL
    // right after its checkpoint record: valid WAL beyond it would be lost.
    if (crash_recovery_works_ && Pc(Field::kState) == static_cast<uint64_t>(DbState::kShutdowned)) {
      const auto* c = wal_->Find(pc);
      if (wal_->end.at.value > ((c->record.end.value + 7) & ~uint64_t{7})) {
        crash_recovery_works_ = false;
        control_problem_ = fmt::format("pg_control says \"shut down\" at checkpoint {}, but valid WAL continues past "
                                       "it to {}: a started server would write over that WAL",
                                       FormatLsn(pc), FormatLsn(wal_->end.at));
      }
    } else if (has_pc && !crash_recovery_works_) {
      control_problem_ = fmt::format("crash recovery cannot start from pg_control's checkpoint {}: the record or WAL "
                                     "from its redo point is not readable to the end",
                                     FormatLsn(pc));
    }
    if (backup_.newest_start) backup_wal_readable_ = RecoverableFrom(*backup_.newest_start);
    for (auto it = wal_->checkpoints.rbegin(); it != wal_->checkpoints.rend(); ++it) {
      if (!RecoverableFrom(it->record.lsn)) continue;
      if (backup_.newest_start && it->record.lsn > *backup_.newest_start) {
        if (!skipped_newer_) skipped_newer_ = it->record.lsn;
        continue;
      }
      if (!has_pc || it->record.lsn != pc) from_wal_ = it->record.lsn;
      break;
    }
    if (from_wal_) {
      Inform("wal-checkpoint-usable",
             fmt::format("WAL holds a checkpoint record at {} whose redo point and every record after it up to {} "
                         "are readable{}: instead of a reset, which loses every transaction after the checkpoint, "
                         "`pgrescue-reset {}--from-wal -D {}` points pg_control at it and the server's crash "
                         "recovery replays the rest",
                         FormatLsn(*from_wal_), FormatLsn(wal_->end.at),
                         has_pc ? fmt::format(" (pg_control points at {})", FormatLsn(pc)) : "",
                         control_ ? "" : "--rebuild ", ShellQuote(dir_.root)));
    }
    if (skipped_newer_) {
      Decide("backup-start",
             fmt::format("WAL holds a usable checkpoint at {}, newer than the backup's start {}: starting there "
                         "would skip the WAL that makes the copied pages consistent, and rows would go missing "
                         "without an error. Recovery must replay from the backup's start",
                         FormatLsn(*skipped_newer_), FormatLsn(*backup_.newest_start)));
    }
  }

  // Crash recovery starting at the checkpoint `at` replays to the end of
  // valid WAL: the checkpoint and its redo point are readable, and no break
  // lies between it and the end.
  bool RecoverableFrom(Lsn at) const {
    if (!wal_) return false;
    const auto* c = wal_->Find(at);
    if (c == nullptr || !c->usable) return false;
    return std::none_of(wal_->breaks.begin(), wal_->breaks.end(), [&](const WalScanEnd& b) { return b.at > at; });
  }

  void ReadPages() {
    plan_.page_lsn = options_.pages != nullptr ? *options_.pages : ScanDataPages(dir_, control_);
    const PageScanReport& r = *plan_.page_lsn;
    plan_.found.push_back(fmt::format("data pages: {} in {} relation file(s); largest page LSN {}{}", r.pages, r.files,
                                      r.max ? FormatLsn(r.max->lsn) : "none",
                                      r.max ? fmt::format(" ({} block {})", r.max->file, r.max->block) : ""));
    if (r.invalid_pages > 0) {
      std::string examples;
      for (const auto& e : r.invalid_examples) examples += (examples.empty() ? "" : "; ") + e;
      Inform("invalid-pages",
             fmt::format("{} data page(s) fail PostgreSQL's page checks ({}); their LSNs are not trusted. The "
                         "server starts, but queries reading them fail with \"invalid page\" errors",
                         r.invalid_pages, examples));
      pages_complete_ = false;
    }
    for (const auto& note : r.structural) {
      Inform("relation-file", note);
      pages_complete_ = false;
    }
    if (r.max && wal_ && r.max->lsn > wal_->end.at) {
      Decide("page-lsn-beyond-wal",
             fmt::format("data pages carry LSNs up to {} ({} block {}), past the end of valid WAL at {}: WAL the "
                         "server had flushed is gone. Crash recovery would end before those pages' changes and "
                         "every later checkpoint would fail (\"xlog flush request … is not satisfied\"); the new "
                         "WAL must start past {}",
                         FormatLsn(r.max->lsn), r.max->file, r.max->block, FormatLsn(wal_->end.at),
                         FormatLsn(r.max->lsn)));
    }
  }

  // Raises `chosen` to what WAL proves, up to the start of the next segment
  // of `s` (whose page the server then creates fresh) when `s` is given.
  uint64_t AtLeastWal(const std::optional<WalBound>& bound, uint64_t chosen, const Slru* s, DerivedValue& v) {
    if (!bound) return chosen;
    if (!Follows32(bound->next, chosen) && bound->next != chosen) {
      v.reasoning.push_back(fmt::format("WAL agrees: {}, not past {}", bound->why, chosen));
      return chosen;
    }
    if (bound->next == chosen) return chosen;
    uint64_t raised = bound->next;
    if (s != nullptr && s->layout) {
      const uint64_t per = s->layout->entries_per_segment();
      raised = ((raised + per - 1) / per * per) & 0xFFFFFFFFu;
    }
    v.reasoning.push_back(fmt::format("WAL proves more: {}; using {}", bound->why, raised));
    return raised;
  }

  bool SegmentPresent(const Slru& s, uint64_t segment) const {
    const auto it = s.sizes.find(segment);
    return it != s.sizes.end() && it->second > 0;
  }

  // At startup the server reads the page that holds the next ID unless the ID
  // starts a page; if its segment is gone it refuses to start ("could not
  // access status of transaction"). The next segment boundary is always safe:
  // the server creates that segment fresh.
  uint64_t ReadableStart(const Slru& s, uint64_t next, DerivedValue& v) {
    if (!s.layout || next % s.layout->entries_per_segment() == 0) return next;
    const uint64_t segment = s.layout->SegmentOf(next);
    if (SegmentPresent(s, segment)) return next;
    uint64_t boundary = s.layout->FirstIdOf(segment + 1);
    if (s.layout->id_space()) boundary &= *s.layout->id_space() - 1;
    v.reasoning.push_back(fmt::format("{} is missing, and the server reads the page holding {} when it starts: "
                                      "using the next segment boundary, {}",
                                      s.dir + "/" + s.layout->FileName(segment), next, boundary));
    return boundary;
  }

  // Missing IDs of `s` in [oldest, next): pages the server needs that no
  // segment file holds. `names` gets the segments at fault.
  uint64_t MissingIds(const Slru& s, uint64_t oldest, uint64_t next, std::vector<std::string>* names) const {
    const auto& l = *s.layout;
    const uint64_t last = (next - 1) & 0xFFFFFFFFu;
    const uint64_t first_seg = l.SegmentOf(oldest), last_seg = l.SegmentOf(last);
    const uint64_t count = l.segment_count().value_or(UINT64_MAX);
    uint64_t missing = 0;
    for (uint64_t seg = first_seg;; seg = (seg + 1) % count) {
      const uint64_t lo = seg == first_seg ? oldest : l.FirstIdOf(seg);
      const uint64_t hi = seg == last_seg ? last + 1 : l.FirstIdOf(seg) + l.entries_per_segment();
      const auto it = s.sizes.find(seg);
      const uint64_t pages = it == s.sizes.end() ? 0 : it->second / block_size_;
      const uint64_t present_end = l.FirstIdOf(seg) + pages * l.entries_per_page();
      if (present_end < hi) {
        missing += hi - std::max(lo, present_end);
        names->push_back(l.FileName(seg) + (pages == 0 ? "" : fmt::format(" (only {} page(s))", pages)));
      }
      if (seg == last_seg) break;
    }
    return missing;
  }

  static std::string NameList(const std::vector<std::string>& names) {
    std::string list;
    for (size_t i = 0; i < names.size() && i < 8; ++i) list += (i ? ", " : "") + names[i];
    if (names.size() > 8) list += fmt::format(" and {} more", names.size() - 8);
    return list;
  }

  // pg_control's oldest to next XID (and MultiXact) must all have their SLRU
  // pages: a reset cannot bring back a commit status or a MultiXact's
  // members, it only moves the counters.
  void CheckXactCoverage() {
    if (!control_) return;
    const uint64_t oldest = Pc(Field::kOldestXid), next = Pc(Field::kNextXid);
    const uint64_t span = (next - oldest) & 0xFFFFFFFFu;
    std::vector<std::string> names;
    if (xact_.layout && span != 0 && span < 0x80000000u) {
      if (const uint64_t missing = MissingIds(xact_, oldest, next, &names)) {
        xact_missing_ = fmt::format(
            "{} no longer covers the transactions in use: {} of the {} XIDs from oldestXID {} to NextXID {} have "
            "no commit status (missing: {}). Every row they wrote or deleted that is not frozen or hint-marked "
            "fails with \"could not access status of transaction\"",
            xact_.dir, missing, span, oldest, next, NameList(names));
        Decide("xact-missing", *xact_missing_ + ". A reset does not bring the status back; restore these files "
                                                "from a backup if one holds them. pgrescue cannot yet rebuild "
                                                "pg_xact from evidence");
      }
    }
    const uint64_t oldest_multi = Pc(Field::kOldestMulti), next_multi = Pc(Field::kNextMulti);
    const uint64_t multis = (next_multi - oldest_multi) & 0xFFFFFFFFu;
    names.clear();
    if (offsets_.layout && multis != 0 && multis < 0x80000000u) {
      if (const uint64_t missing = MissingIds(offsets_, oldest_multi, next_multi, &names)) {
        Decide("multixact-missing",
               fmt::format("{} no longer covers the MultiXacts in use: {} of the {} from oldestMultiXid {} to "
                           "NextMultiXactId {} are gone (missing: {}). Rows locked or updated by them fail with "
                           "\"could not access status of transaction\" or \"MultiXactId … has not been created "
                           "yet\"; a reset does not bring them back. Restore these files from a backup if one "
                           "holds them",
                           offsets_.dir, missing, multis, oldest_multi, next_multi, NameList(names)));
      }
    }
  }

  void NextXid() {
    auto& v = Add("-x", "--next-transaction-id", "next transaction ID");
    if (!xact_.run) {
      if (control_) {
        next_xid_ = Pc(Field::kNextXid);
        v.reasoning.push_back(fmt::format("{} has no segments; pg_control says NextXID {}", xact_.dir, *next_xid_));
        next_xid_ = ReadableStart(xact_, *next_xid_, v);
        v.value = fmt::format("{}", *next_xid_);
        v.confidence = Confidence::kMedium;
      } else {
        v.reasoning.push_back(fmt::format("{} has no segments and pg_control is not usable: cannot be derived",
                                          xact_.dir));
        v.in_command = false;
        v.confidence = Confidence::kLow;
        Decide("next-xid-unknown", "the next transaction ID cannot be derived: pg_xact has no segments and "
                                   "pg_control is unusable. Look for XIDs in WAL or data pages");
      }
      return;
    }
    v.reasoning.push_back(RunText(xact_));
    uint64_t derived = NextBoundary(xact_);
    const uint64_t newest_end = xact_.layout->FirstIdOf(xact_.run->last) + xact_.layout->entries_per_segment() - 1;
    v.reasoning.push_back(fmt::format("the newest, {}, may hold XIDs up to {} ({}): next = {} × {} = {}",
                                      xact_.layout->FileName(xact_.run->last), newest_end, Hex(newest_end),
                                      (derived / xact_.layout->entries_per_segment()),
                                      xact_.layout->entries_per_segment(), derived));
    if (derived < kFirstNormalXid) {
      v.reasoning.push_back(fmt::format("that wraps to {}; XIDs 0–2 are special, so {}", derived, kFirstNormalXid));
      derived = kFirstNormalXid;
      xid_wrapped_ = true;
    }
    uint64_t chosen = derived;
    if (control_) {
      const uint64_t pc = Pc(Field::kNextXid);
      chosen = LaterNext(xact_, derived, pc, "NextXID", &v);
      if (chosen < pc) xid_wrapped_ = true;
    } else {
      v.reasoning.push_back(fmt::format("using {}, the start of a segment the server will create fresh", chosen));
      v.confidence = Confidence::kMedium;
    }
    chosen = AtLeastWal(proof_.next_xid, chosen, &xact_, v);
    chosen = ReadableStart(xact_, chosen, v);
    next_xid_ = chosen;
    v.value = fmt::format("{}", chosen);
  }

  void OldestXid() {
    const bool supported = layout_.rules().reset_has_oldest_xid_option;
    auto& v = Add("-u", "--oldest-transaction-id", "oldest transaction ID");
    v.in_command = supported;
    if (!supported) v.reasoning.push_back(fmt::format("{} {} has no -u; shown for information", layout_.reset_tool(),
                                                      layout_.major()));
    uint64_t chosen = 0;
    if (xact_.run) {
      uint64_t start = xact_.layout->FirstIdOf(xact_.run->first);
      if (start < kFirstNormalXid) start = kFirstNormalXid;
      v.reasoning.push_back(fmt::format("the oldest segment, {}, starts at XID {}", xact_.layout->FileName(xact_.run->first),
                                        start));
      chosen = start;
      if (control_) {
        chosen = OldestWithin(xact_, start, next_xid_.value_or(start), Pc(Field::kOldestXid), "oldestXID", &v);
      } else {
        v.confidence = Confidence::kMedium;
      }
    } else if (control_) {
      chosen = Pc(Field::kOldestXid);
      v.reasoning.push_back(fmt::format("no {} segments; pg_control says oldestXID {}", xact_.dir, chosen));
      v.confidence = Confidence::kMedium;
    } else {
      v.reasoning.push_back("cannot be derived");
      v.in_command = false;
      v.confidence = Confidence::kLow;
      return;
    }
    if (next_xid_ && static_cast<uint32_t>(*next_xid_ - chosen) > 2000000000u) {
      Decide("xid-wraparound-near",
             fmt::format("the distance from oldest XID {} to next XID {} is over 2 billion: the server will "
                         "refuse new transactions until VACUUM freezes old rows",
                         chosen, *next_xid_));
    }
    v.value = fmt::format("{}", chosen);
  }

  void MultiXacts() {
    auto& v = Add("-m", "--multixact-ids", "next and oldest MultiXact ID");
    uint64_t next = 0, oldest = 0;
    if (offsets_.run) {
      v.reasoning.push_back(RunText(offsets_));
      next = NextBoundary(offsets_);
      oldest = offsets_.layout->FirstIdOf(offsets_.run->first);
      v.reasoning.push_back(fmt::format("next = start of the segment after {} = {}; oldest = start of {} = {}",
                                        offsets_.layout->FileName(offsets_.run->last), next,
                                        offsets_.layout->FileName(offsets_.run->first), oldest));
      if (next < kFirstMultiXactId) next = kFirstMultiXactId, v.reasoning.push_back("next wraps to 0, which is invalid: 1");
      if (oldest < kFirstMultiXactId) oldest = kFirstMultiXactId;
      if (control_) {
        next = LaterNext(offsets_, next, Pc(Field::kNextMulti), "NextMultiXactId", &v);
        oldest = OldestWithin(offsets_, oldest, next, Pc(Field::kOldestMulti), "oldestMultiXid", &v);
      } else {
        v.confidence = Confidence::kMedium;
      }
    } else if (control_) {
      next = Pc(Field::kNextMulti);
      oldest = Pc(Field::kOldestMulti);
      v.reasoning.push_back(fmt::format("no offsets segments; pg_control says {} and {}", next, oldest));
      v.confidence = Confidence::kMedium;
    } else {
      v.reasoning.push_back("no offsets segments and no usable pg_control: cannot be derived");
      v.in_command = false;
      v.confidence = Confidence::kLow;
      return;
    }
    next = AtLeastWal(proof_.next_multi, next, &offsets_, v);
    next = ReadableStart(offsets_, next, v);
    v.value = fmt::format("{},{}", next, oldest);
  }

  void MultiXactOffset() {
    auto& v = Add("-O", "--multixact-offset", "next MultiXact offset");
    uint64_t next = 0;
    if (members_.run) {
      v.reasoning.push_back(RunText(members_));
      next = NextBoundary(members_);
      v.reasoning.push_back(fmt::format("next = start of the segment after {} = {}",
                                        members_.layout->FileName(members_.run->last), next));
      if (control_) {
        next = LaterNext(members_, next, Pc(Field::kNextMultiOffset), "NextMultiOffset", &v);
      } else {
        v.confidence = Confidence::kMedium;
      }
    } else if (control_) {
      next = Pc(Field::kNextMultiOffset);
      v.reasoning.push_back(fmt::format("no members segments; pg_control says {}", next));
      v.confidence = Confidence::kMedium;
    } else {
      v.reasoning.push_back("no members segments and no usable pg_control: cannot be derived");
      v.in_command = false;
      v.confidence = Confidence::kLow;
      return;
    }
    if (!layout_.rules().multixact_offsets_64bit) next = AtLeastWal(proof_.next_multi_offset, next, &members_, v);
    next = ReadableStart(members_, next, v);
    v.value = fmt::format("{}", next);
  }

  void CommitTs() {
    if (!commit_ts_.layout) return;
    auto& v = Add("-c", "--commit-timestamp-ids", "oldest and newest commit-timestamp XIDs");
    if (!commit_ts_.run) {
      v.reasoning.push_back(fmt::format("{} has no segments: nothing to set", commit_ts_.dir));
      v.in_command = false;
      return;
    }
    const auto& l = *commit_ts_.layout;
    v.reasoning.push_back(RunText(commit_ts_));
    // Only pages that exist in the newest file can be looked up.
    const uint64_t pages = std::max<uint64_t>(commit_ts_.sizes[commit_ts_.run->last] / block_size_, 1);
    uint64_t oldest = l.FirstIdOf(commit_ts_.run->first);
    uint64_t newest = (l.FirstIdOf(commit_ts_.run->last) + pages * l.entries_per_page() - 1) & 0xFFFFFFFFu;
    const uint64_t minimum = layout_.rules().reset_min_commit_ts_xid;
    if (oldest < minimum) oldest = minimum;
    v.reasoning.push_back(fmt::format("oldest = start of {} = {}; newest = last XID on the {} page{} of {} = {}",
                                      l.FileName(commit_ts_.run->first), oldest, pages, pages == 1 ? "" : "s",
                                      l.FileName(commit_ts_.run->last), newest));
    if (next_xid_ && !Precedes32(newest, *next_xid_)) {
      newest = (*next_xid_ - 1) & 0xFFFFFFFFu;
      v.reasoning.push_back(fmt::format("capped below the next XID: {}", newest));
    }
    if (control_ && Pc(Field::kNewestCommitTsXid) != 0) {
      const uint64_t pc_old = Pc(Field::kOldestCommitTsXid), pc_new = Pc(Field::kNewestCommitTsXid);
      v.reasoning.push_back(fmt::format("pg_control says {},{}", pc_old, pc_new));
      if (!Precedes32(pc_old, oldest) && !Precedes32(newest, pc_new)) {
        oldest = pc_old;
        newest = pc_new;
        v.reasoning.push_back("inside what the files hold; keeping pg_control's");
      }
    } else {
      v.confidence = Confidence::kMedium;
    }
    v.value = fmt::format("{},{}", oldest, newest);
  }

  void NextOid() {
    auto& v = Add("-o", "--next-oid", "next OID");
    uint64_t chosen = kFirstNormalObjectId;
    v.reasoning.push_back(fmt::format("user objects start at OID {}", kFirstNormalObjectId));
    if (control_) {
      const uint64_t pc = Pc(Field::kNextOid) + kOidPrefetch;
      v.reasoning.push_back(fmt::format("pg_control says NextOID {}; the server hands out up to {} OIDs past "
                                        "a checkpoint's value before logging more: {}",
                                        Pc(Field::kNextOid), kOidPrefetch, pc));
      chosen = std::max(chosen, pc);
    } else {
      v.confidence = Confidence::kMedium;
    }
    if (dir_.max_relation_oid) {
      v.reasoning.push_back(fmt::format("the largest relfilenode/database/tablespace OID on disk is {} ({}): {}",
                                        *dir_.max_relation_oid, Rel(dir_.max_relation_oid_path),
                                        *dir_.max_relation_oid + 1));
      chosen = std::max(chosen, *dir_.max_relation_oid + 1);
    }
    if (chosen > 0xFFFFFFFFu) {
      chosen = kFirstNormalObjectId;
      v.reasoning.push_back("past 2^32 OIDs wrap: 16384");
    }
    chosen = AtLeastWal(proof_.next_oid, chosen, nullptr, v);
    v.value = fmt::format("{}", chosen);
  }

  void WalStart() {
    auto& v = Add("-l", "--next-wal-file", "first WAL segment after the reset");
    v.reasoning.push_back(fmt::format("segment size {} bytes, from {}", seg_size_, seg_size_source_));
    uint32_t tli = 1;
    std::optional<uint64_t> max_seg;
    std::string max_name;
    auto consider = [&](const DirListing& l, const std::string& where) {
      for (const auto& e : l.entries) {
        if (e.is_dir) continue;
        const auto n = ClassifyWalFileName(e.name, seg_size_);
        if (n.kind == WalFileKind::kTemporary || n.kind == WalFileKind::kOther) continue;
        tli = std::max(tli, n.timeline);
        if (n.segment_number && (!max_seg || *n.segment_number > *max_seg)) {
          max_seg = *n.segment_number;
          max_name = where + "/" + e.name;
        }
      }
    };
    consider(dir_.wal, Rel(dir_.wal.path));
    for (const auto& a : dir_.wal_archives) consider(a, a.path);
    if (max_seg) {
      v.reasoning.push_back(fmt::format("the newest WAL file on any timeline is {}", max_name));
    } else {
      v.reasoning.push_back("no WAL files were found");
    }
    if (control_) {
      const uint64_t redo_seg = SegmentNumberOf(Lsn{Pc(Field::kRedo)}, seg_size_);
      tli = std::max(tli, static_cast<uint32_t>(Pc(Field::kThisTimeLineId)));
      if (!max_seg || redo_seg > *max_seg) {
        max_seg = redo_seg;
        v.reasoning.push_back(fmt::format("pg_control's REDO point is in segment {}", redo_seg));
      }
      const std::string redo_name = SegmentNameFor(static_cast<uint32_t>(Pc(Field::kThisTimeLineId)),
                                                   Lsn{Pc(Field::kRedo)}, seg_size_).ToString(seg_size_);
      const bool in_archive = std::any_of(dir_.wal_archives.begin(), dir_.wal_archives.end(),
                                          [&](const DirListing& a) { return Contains(a, redo_name); });
      if (!Contains(dir_.wal, redo_name) && !in_archive) {
        Decide("redo-segment-missing",
               fmt::format("the checkpoint's REDO segment {} is not in {} or any WAL archive given: the "
                           "server cannot start from this checkpoint. Look for it in backups or the WAL "
                           "archive (--wal-archive DIR) before resetting",
                           redo_name, Rel(dir_.wal.path)));
      }
    } else if (!max_seg) {
      v.confidence = Confidence::kLow;
    }
    uint64_t next = max_seg ? *max_seg + 1 : 1;
    v.reasoning.push_back(fmt::format("newest timeline {}; one segment past the newest: {}", tli, next));
    // Pages and recovery markers written past the new WAL's start make every
    // later flush of them fail: the new WAL must begin after all of them.
    auto past = [&](Lsn lsn, const std::string& what) {
      const uint64_t segment = SegmentNumberOf(lsn, seg_size_) + 1;
      if (segment > next) {
        v.reasoning.push_back(fmt::format("{} is {}: the new WAL must start past it, in segment {}", what,
                                          FormatLsn(lsn), segment));
        next = segment;
      } else {
        v.reasoning.push_back(fmt::format("{} is {}, before that", what, FormatLsn(lsn)));
      }
    };
    for (const auto& b : WalStartBounds(control_, plan_.page_lsn ? plan_.page_lsn->max : std::nullopt)) {
      past(b.lsn, b.what);
    }
    if (!pages_complete_) {
      v.confidence = Confidence::kMedium;
      v.reasoning.push_back("not every data page could be read and trusted (see the hazards): a page LSN past this "
                            "may exist");
    }
    v.value = WalSegmentName{tli, next}.ToString(seg_size_);
  }

  void Epoch() {
    auto& v = Add("-e", "--epoch", "transaction ID epoch");
    if (control_) {
      uint64_t epoch = Pc(Field::kNextXidEpoch);
      v.reasoning.push_back(fmt::format("pg_control says epoch {}", epoch));
      if (xid_wrapped_) {
        epoch = (epoch + 1) & 0xFFFFFFFFu;
        v.reasoning.push_back(fmt::format("the next XID wrapped past 2^32: {}", epoch));
      }
      v.value = fmt::format("{}", epoch);
      return;
    }
    if (const auto* c = wal_ ? wal_->NewestUsable() : nullptr) {
      ControlFile scratch(layout_);
      c->record.ApplyTo(&scratch);
      v.value = fmt::format("{}", scratch.value(Field::kNextXidEpoch));
      v.reasoning.push_back(fmt::format("pg_control is not usable; the checkpoint record at {} in WAL says epoch {}",
                                        FormatLsn(c->record.lsn), v.value));
      return;
    }
    v.in_command = false;
    v.confidence = Confidence::kLow;
    v.value = "unknown";
    v.reasoning.push_back(
        "unknown: only pg_control and checkpoint records in WAL record it. It affects 64-bit transaction IDs (txid_current(), "
        "pg_current_xact_id()) and tools that store them; row visibility does not depend on it. "
        "Without -e, pg_resetwal uses 0");
  }

  void Command() {
    std::string options;
    if (plan_.needs_force) options += " -f";
    for (const auto& v : plan_.values) {
      if (v.in_command && !v.value.empty()) options += " " + v.option + " " + v.value;
    }
    options += " -D " + ShellQuote(dir_.root);
    plan_.command = std::string(layout_.reset_tool()) + options;
    plan_.pgrescue_command = std::string("pgrescue-reset") + (ControlNeedsRebuild(dir_) ? " --rebuild" : "") + options;
  }

  void Remedies() {
    RemedyFacts f;
    f.data_dir = dir_.root;
    if (dir_.live.in_use()) f.users = dir_.live.Describe();
    f.stale_pid_file = dir_.postmaster_pid && !dir_.live.in_use();
    f.crash_recovery_works = crash_recovery_works_;
    f.shut_down_cleanly = control_ && Pc(Field::kState) == static_cast<uint64_t>(DbState::kShutdowned);
    if (control_) f.control_checkpoint = Lsn{Pc(Field::kCheckPoint)};
    f.control_problem = control_problem_;
    f.control_rebuild_needed = ControlNeedsRebuild(dir_);
    if (wal_) {
      f.wal_end = wal_->end.at;
      f.wal_end_reason = std::string(WalStopName(wal_->end.why));
    }
    f.from_wal_checkpoint = from_wal_;
    f.skipped_newer_checkpoint = skipped_newer_;
    f.backup_recovering = backup_.recovering;
    f.backup_start = backup_.newest_start;
    f.backup_wal_readable = backup_wal_readable_;
    f.backup_end_record_required = backup_.end_record_required;
    f.backup_evidence = backup_.evidence;
    if (backup_.newest_start) {
      const uint32_t tli = control_ ? static_cast<uint32_t>(Pc(Field::kThisTimeLineId)) : wal_ ? wal_->timeline : 1;
      f.backup_start_segment = SegmentNameFor(tli, *backup_.newest_start, seg_size_).ToString(seg_size_);
    }
    if (dir_.recovery_signal) f.signal_files.push_back("recovery.signal");
    if (dir_.standby_signal) f.signal_files.push_back("standby.signal");
    if (dir_.recovery_conf) f.signal_files.push_back("recovery.conf");
    if (plan_.page_lsn && plan_.page_lsn->max) {
      f.max_page_lsn = plan_.page_lsn->max->lsn;
      f.max_page_where = fmt::format("{} block {}", plan_.page_lsn->max->file, plan_.page_lsn->max->block);
    }
    if (plan_.page_lsn) f.invalid_pages = plan_.page_lsn->invalid_pages;
    f.xact_missing = xact_missing_;
    f.reset_command = plan_.pgrescue_command;
    if (control_) {
      f.reset_loses.push_back(fmt::format("every change after pg_control's checkpoint (redo {}) whose WAL is not "
                                          "replayed", FormatLsn(Lsn{Pc(Field::kRedo)})));
    } else {
      f.reset_loses.push_back("every change whose WAL is not replayed; pg_control's own values are gone");
    }
    if (wal_ && wal_->maxima.last_commit_time) {
      f.reset_loses.push_back(fmt::format("WAL that survives up to {} (last commit XID {} at {}) is discarded",
                                          FormatLsn(wal_->end.at), wal_->maxima.last_commit_xid,
                                          FormatPgTimestamp(*wal_->maxima.last_commit_time)));
    }
    if (xact_missing_) {
      f.reset_loses.push_back("the commit status pg_xact lost stays lost: the server starts, but any query that "
                              "reads a row those transactions wrote fails with \"could not access status of "
                              "transaction\"; the system catalogs hold such rows too, so connections can fail "
                              "until pg_xact is restored");
    }
    plan_.remedies = RankRemedies(f);
    // A stale lock file stops pg_resetwal and pgrescue-reset; the check above
    // found nothing using the directory, so removing it is safe.
    if (f.stale_pid_file) {
      for (auto& r : plan_.remedies) {
        if (r.code == "reset" || r.code == "from-wal") {
          r.commands.insert(r.commands.begin(), "rm " + ShellQuote(dir_.root + "/postmaster.pid"));
        }
      }
    }
  }

  const DataDir& dir_;
  const ControlLayout& layout_;
  const PlanOptions& options_;
  Plan& plan_;
  const ControlFile* control_ = nullptr;  // trusted
  uint32_t block_size_ = kDefaultBlockSize;
  std::string block_size_source_;
  uint64_t seg_size_ = kDefaultWalSegmentSize;
  std::string seg_size_source_;
  Slru xact_, offsets_, members_, commit_ts_;
  BackupState backup_;
  std::optional<WalScanReport> wal_;
  bool crash_recovery_works_ = false;     // from pg_control's checkpoint
  std::string control_problem_;
  bool backup_wal_readable_ = false;      // from the backup's start
  std::optional<Lsn> from_wal_, skipped_newer_;
  bool pages_complete_ = true;            // every page read and trusted
  std::optional<std::string> xact_missing_;
  std::optional<uint64_t> next_xid_;
  bool xid_wrapped_ = false;
  WalProof proof_;
};

}  // namespace

std::string_view ConfidenceName(Confidence c) {
  switch (c) {
    case Confidence::kHigh: return "high";
    case Confidence::kMedium: return "medium";
    case Confidence::kLow: return "low";
  }
  return "?";
}

bool Plan::NeedsDecision() const { return !(remedies.size() == 1 && remedies[0].code == "start-server"); }

bool Plan::ShowsReset() const { return reset_values || (!remedies.empty() && remedies[0].code == "reset"); }

PageScanReport ScanDataPages(const DataDir& dir, const ControlFile* trusted) {
  PageScanOptions o;
  o.data_dir = dir.root;
  if (trusted != nullptr) {
    o.block_size = static_cast<uint32_t>(trusted->value(Field::kBlockSize));
    o.checksums = trusted->value(Field::kDataChecksumVersion) != 0;
    o.blocks_per_segment = trusted->value(Field::kRelSegSize);
  } else {
    o.block_size = BlockSizeFromRelation(dir).value_or(o.block_size);
    o.blocks_per_segment = (uint64_t{1} << 30) / o.block_size;
  }
  auto report = ScanPageLsns(o);
  if (!report) {
    PageScanReport none;
    none.structural.push_back(report.error().ToString());
    return none;
  }
  return std::move(*report);
}

std::vector<WalStartBound> WalStartBounds(const ControlFile* control, const std::optional<PageLsnMax>& page_max) {
  std::vector<WalStartBound> out;
  if (page_max) {
    out.push_back({page_max->lsn, fmt::format("the largest LSN on a data page ({} block {})", page_max->file,
                                              page_max->block)});
  }
  if (control != nullptr) {
    for (auto [field, what] : {std::pair{Field::kMinRecoveryPoint, "pg_control's minimum recovery point"},
                               {Field::kBackupEndPoint, "pg_control's backup end"}}) {
      if (control->value(field) != 0) out.push_back({Lsn{control->value(field)}, what});
    }
  }
  return out;
}

Result<Plan> MakePlan(const DataDir& dir, const PlanOptions& options) {
  Plan plan;
  plan.data_dir = dir.root;
  plan.reset_values = options.reset_values;
  if (dir.pg_version) plan.layout = FindLayoutByMajor(*dir.pg_version);
  if (!plan.layout && dir.control && dir.control->ok()) plan.layout = &dir.control->value().control.layout();
  if (!plan.layout) {
    return MakeError(ErrorCode::kUnknownVersion,
                     dir.pg_version ? fmt::format("PG_VERSION says \"{}\", which pgrescue does not support "
                                                  "(9.4 to 19), and pg_control is not readable",
                                                  *dir.pg_version)
                                    : "PG_VERSION is missing and pg_control is not readable: the "
                                      "PostgreSQL version cannot be told. Write the major version "
                                      "(such as 15) into PG_VERSION",
                     dir.root);
  }
  Planner(dir, *plan.layout, options, &plan).Run();
  return plan;
}

std::string FormatPlan(const Plan& plan) {
  std::string out = fmt::format("Plan for {} (PostgreSQL {})\n\nFound:\n", plan.data_dir, plan.layout->major());
  for (const auto& f : plan.found) out += "  " + f + "\n";
  out += "\nHazards:\n";
  if (plan.hazards.empty()) out += "  none\n";
  for (const auto& h : plan.hazards) {
    out += fmt::format("  {} {}: {}\n", h.needs_decision ? "!" : "-", h.code, h.message);
  }
  out += "\nRemedies, least destructive first:\n";
  if (plan.remedies.empty()) out += "  none found: the evidence above is all there is\n";
  for (size_t i = 0; i < plan.remedies.size(); ++i) {
    const Remedy& r = plan.remedies[i];
    out += fmt::format("  {}. {}: {}\n     loses: {}\n", i + 1, r.code, r.summary, r.loses);
    for (const auto& why : r.reasons) out += "     because " + why + "\n";
    for (const auto& c : r.commands) out += "     $ " + c + "\n";
  }
  if (!plan.ShowsReset()) {
    out += "\nThe reset's values and command are shown when it is the first remedy; --reset-values shows "
           "them anyway.\n";
    return out;
  }
  out += "\nDerived values:\n";
  for (const auto& v : plan.values) {
    out += fmt::format("  {:<3} {:<42} {}   (confidence: {}{})\n", v.option, v.what, v.value,
                       ConfidenceName(v.confidence), v.in_command ? "" : "; not in the command");
    for (const auto& r : v.reasoning) out += "        " + r + "\n";
  }
  out += "\nCommand (dry run first with -n; nothing has been changed):\n  " + plan.command + "\n";
  out += "or, keeping every replaced file for --undo:\n  " + plan.pgrescue_command + "\n";
  for (const auto& r : plan.force_reasons) out += "  -f because " + r + "\n";
  return out;
}

nlohmann::ordered_json PlanToJson(const Plan& plan) {
  nlohmann::ordered_json j;
  j["data_dir"] = plan.data_dir;
  j["version"] = std::string(plan.layout->major());
  j["found"] = plan.found;
  j["hazards"] = nlohmann::ordered_json::array();
  for (const auto& h : plan.hazards) {
    j["hazards"].push_back({{"code", h.code}, {"message", h.message}, {"needs_decision", h.needs_decision}});
  }
  j["values"] = nlohmann::ordered_json::array();
  for (const auto& v : plan.values) {
    j["values"].push_back({{"option", v.option}, {"long_option", v.long_option}, {"what", v.what},
                           {"value", v.value}, {"confidence", ConfidenceName(v.confidence)},
                           {"in_command", v.in_command}, {"reasoning", v.reasoning}});
  }
  j["remedies"] = nlohmann::ordered_json::array();
  for (const auto& r : plan.remedies) {
    j["remedies"].push_back({{"code", r.code}, {"summary", r.summary}, {"loses", r.loses},
                             {"commands", r.commands}, {"reasons", r.reasons}});
  }
  if (plan.page_lsn) {
    const auto& p = *plan.page_lsn;
    j["page_lsn"] = {{"max_lsn", p.max ? nlohmann::ordered_json(FormatLsn(p.max->lsn)) : nullptr},
                     {"file", p.max ? nlohmann::ordered_json(p.max->file) : nullptr},
                     {"block", p.max ? nlohmann::ordered_json(p.max->block) : nullptr},
                     {"files", p.files}, {"pages", p.pages}, {"invalid_pages", p.invalid_pages},
                     {"invalid_examples", p.invalid_examples}, {"structural", p.structural}};
  } else {
    j["page_lsn"] = nullptr;
  }
  j["needs_force"] = plan.needs_force;
  j["force_reasons"] = plan.force_reasons;
  j["command"] = plan.ShowsReset() ? plan.command : "";
  j["pgrescue_command"] = plan.ShowsReset() ? plan.pgrescue_command : "";
  j["needs_decision"] = plan.NeedsDecision();
  return j;
}

}  // namespace pgrescue
