#include "libcontrol/plan/failure_catalogue.h"

#include <cctype>
#include <cstring>

namespace pgrescue {
namespace {

// A format split at its conversions: literal, conversion, literal, ...
// (literals may be empty), "%%" folded into the literal.
std::vector<std::string> Literals(std::string_view format) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out.back() += format[i];
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '%') {
      out.back() += '%';
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < format.size() && std::strchr("-+ #0123456789.*", format[j]) != nullptr) ++j;
    while (j < format.size() && std::strchr("hlLzjt", format[j]) != nullptr) ++j;
    if (j < format.size() && std::strchr("diouxXeEfgGcspm", format[j]) != nullptr) {
      out.emplace_back();
      i = j;
    } else {
      out.back() += '%';
    }
  }
  return out;
}

// literals[k] stands at `at` (the caller found it there); conversions
// between literals take the shortest text that lets the rest match. The last
// literal can only end the text, so it is looked for there alone: trying it
// after every earlier match made a long one cost its length times the
// budget. `budget` bounds the backtracking; `spans` collects where each
// conversion's text lies.
bool MatchFrom(const std::vector<std::string>& literals, size_t k, std::string_view text, size_t at,
               std::vector<std::pair<size_t, size_t>>* spans, int* budget) {
  at += literals[k].size();
  if (k + 1 == literals.size()) return at == text.size();
  const std::string& next = literals[k + 1];
  if (k + 2 == literals.size()) {
    if (text.size() < at + next.size() || !text.ends_with(next)) return false;
    spans->emplace_back(at, text.size() - next.size() - at);
    return true;
  }
  for (size_t end = text.find(next, at); end != std::string_view::npos; end = text.find(next, end + 1)) {
    if (--*budget < 0) return false;
    spans->emplace_back(at, end - at);
    if (MatchFrom(literals, k + 1, text, end, spans, budget)) return true;
    spans->pop_back();
  }
  return false;
}

}  // namespace

bool MatchMessageForm(std::string_view format, std::string_view text, std::vector<std::string>* values) {
  // A cheap refusal first, before anything is allocated: the text must open
  // with what precedes the first conversion.
  if (!text.starts_with(format.substr(0, format.find('%')))) return false;
  const auto literals = Literals(format);
  if (!text.starts_with(literals[0])) return false;
  std::vector<std::pair<size_t, size_t>> spans;
  // Real wordings against real logs (the unit tests' fixtures) take at most
  // 4 steps; 500 keeps the fuzzer's made-up formats of up to 100 conversions
  // to a fraction of a millisecond.
  int budget = 500;
  if (!MatchFrom(literals, 0, text, 0, &spans, &budget)) return false;
  if (values != nullptr) {
    values->clear();
    for (auto [from, length] : spans) values->emplace_back(text.substr(from, length));
  }
  return true;
}

bool NamesClass(const FailureClass& failure, const LogMessage& message) {
  for (const MessageForm& form : failure.messages) {
    if (MatchMessageForm(form.format, message.text, nullptr)) return true;
  }
  return false;
}

const FailureClass* FindFailureClass(std::string_view code) {
  for (const auto& c : FailureCatalogue()) {
    if (c.code == code) return &c;
  }
  return nullptr;
}

}  // namespace pgrescue

namespace pgrescue {

// Wordings are errmsg's format strings from each branch's source; where the
// server adds a DETAIL or HINT, only the primary message is matched.
const std::vector<FailureClass>& FailureCatalogue() {
  static const std::vector<FailureClass> classes = {
      {"directory-in-use",
       "the data directory is (or seems) still in use: a lock file or shared memory block says so",
       {{"lock file \"%s\" already exists", "9.4–"},
        {"pre-existing shared memory block (key %lu, ID %lu) is still in use", "9.4–"},
        {"bogus data in lock file \"%s\": \"%s\"", "9.4–"},
        {"lock file \"%s\" is empty", "9.4–"}},
       "postmaster.pid, the processes using the directory and its shared memory segment",
       {"wait", "start-server"}},
      {"control-damaged",
       "pg_control is missing, unreadable, of another version or fails its checksum",
       {{"could not open control file \"%s\": %m", "9.4–11"},
        {"could not open file \"%s\": %m", "12–"},
        {"%s: could not find the database system", "9.4–"},
        {"incorrect checksum in control file", "9.4–"},
        {"database files are incompatible with server", "9.4–"},
        {"could not read from control file: %m", "9.4–11"},
        {"could not read from control file: read %d bytes, expected %d", "9.4–11 (minor releases)"},
        {"could not read file \"%s\": %m", "12–"},
        {"could not read file \"%s\": read %d of %zu", "12–"},
        {"invalid WAL segment size in control file (%d byte)", "11–"},
        {"invalid WAL segment size in control file (%d bytes)", "11–"}},
       "global/pg_control: present, its CRC, its version and its values",
       {"from-wal", "reset"}},
      {"unfinished-copy",
       "a base backup copy that never finished: pg_basebackup (or any copy) stopped before global/pg_control, "
       "which comes last, so other files are missing too",
       {{"could not open control file \"%s\": %m", "9.4–11"},
        {"could not open file \"%s\": %m", "12–"},
        {"%s: could not find the database system", "9.4–"},
        {"%s: could not access the server configuration file \"%s\": %s", "9.4–"}},
       "backup_label present while global/pg_control is not",
       {"new-backup"}},
      {"no-checkpoint",
       "crash recovery cannot find the checkpoint pg_control names",
       {{"could not locate a valid checkpoint record", "9.4–16"},
        {"could not locate a valid checkpoint record at %X/%X", "17–"},
        {"invalid primary checkpoint record", "9.4–15"},
        {"invalid secondary checkpoint record", "9.4–10"},
        {"invalid checkpoint record", "9.4–"},
        {"invalid resource manager ID in primary checkpoint record", "9.4–15"},
        {"invalid resource manager ID in secondary checkpoint record", "9.4–10"},
        {"invalid resource manager ID in checkpoint record", "9.4–"},
        {"invalid xl_info in primary checkpoint record", "9.4–15"},
        {"invalid xl_info in secondary checkpoint record", "9.4–10"},
        {"invalid xl_info in checkpoint record", "9.4–"},
        {"invalid length of primary checkpoint record", "9.4–15"},
        {"invalid length of secondary checkpoint record", "9.4–10"},
        {"invalid length of checkpoint record", "9.4–"},
        {"invalid redo record in shutdown checkpoint", "9.4–"},
        {"invalid redo in checkpoint record", "9.4–"},
        {"could not find redo location referenced by checkpoint record", "9.4–16"},
        {"could not find redo location %X/%X referenced by checkpoint record at %X/%X", "17–"}},
       "whether WAL holds pg_control's checkpoint record and its redo point",
       {"start-server", "recover-backup", "from-wal", "reset"}},
      {"canceled-backup",
       "recovery of a backup copy cannot reach the backup's end: its pg_stop_backup never ran, or its WAL is gone",
       {{"online backup was canceled, recovery cannot continue", "9.4–"},
        {"WAL ends before end of online backup", "9.4–"},
        {"WAL ends before consistent recovery point", "9.4–"},
        {"could not locate required checkpoint record", "9.4–16"},
        {"could not locate required checkpoint record at %X/%X", "17–"},
        {"backup_label contains data inconsistent with control file", "9.4–"},
        {"invalid data in file \"%s\"", "9.4–"}},
       "backup_label, pg_control's backup fields, the copy's page LSNs and file times, and the WAL from the "
       "backup's start to the primary's shutdown",
       {"finish-backup", "recover-backup", "from-wal", "reset"}},
      {"crashed-in-backup",
       "a primary that crashed inside an exclusive backup (pg_start_backup) kept backup_label, and its start "
       "replays from the backup's checkpoint, whose WAL checkpoints have since removed",
       {{"could not locate required checkpoint record", "9.4–14"}},
       "backup_label's method, postmaster.pid's data directory and process, pg_control's state and checkpoint "
       "against the label's, and crash recovery from pg_control's checkpoint",
       {"restart-primary", "recover-backup"}},
      {"xact-missing",
       "the commit status of transactions is gone (pg_xact, pg_clog or pg_multixact files missing)",
       {{"could not access status of transaction %u", "9.4–"},
        {"file \"%s\" doesn't exist, reading as zeroes", "9.4– (during recovery)"},
        {"MultiXactId %u has not been created yet -- apparent wraparound", "9.4–"},
        {"MultiXactId %u does no longer exist -- apparent wraparound", "9.4–"}},
       "pg_xact (pg_clog) and pg_multixact against the IDs pg_control and the pages use",
       {"restore-xact", "rebuild-xact", "reset"}},
      {"wal-gone",
       "WAL that recovery needs has been removed",
       {{"requested WAL segment %s has already been removed", "9.4–"},
        {"could not receive data from WAL stream: ERROR:  requested WAL segment %s has already been removed",
         "9.4– (a standby, its primary's words)"},
        {"could not restore file \"%s\" from archive: %s", "9.4–"}},
       "the WAL files from pg_control's redo point on, in pg_wal and the archives given; for a standby, the "
       "primary's",
       {"resume-standby", "recover-backup", "from-wal", "reset"}},
      {"wal-damaged",
       "WAL is unreadable before its end (a read error during recovery also marks the normal end of WAL)",
       {{"invalid magic number %04X in log segment %s, offset %u", "9.4–15"},
        {"invalid magic number %04X in WAL segment %s, LSN %X/%X, offset %u", "16–"},
        {"invalid info bits %04X in log segment %s, offset %u", "9.4–15"},
        {"invalid info bits %04X in WAL segment %s, LSN %X/%X, offset %u", "16–"},
        {"unexpected pageaddr %X/%X in log segment %s, offset %u", "9.4–15"},
        {"unexpected pageaddr %X/%X in WAL segment %s, LSN %X/%X, offset %u", "16–"},
        {"out-of-sequence timeline ID %u (after %u) in log segment %s, offset %u", "9.4–15"},
        {"out-of-sequence timeline ID %u (after %u) in WAL segment %s, LSN %X/%X, offset %u", "16–"},
        {"invalid record length at %X/%X", "9.4"},
        {"invalid record length at %X/%X: wanted %u, got %u", "9.5–15"},
        {"invalid record length at %X/%X: expected at least %u, got %u", "16–"},
        {"invalid record length at %X/%X: expected at most %u, got %u", "20devel"},
        {"record length %u at %X/%X too long", "9.4–13"},
        {"invalid record offset at %X/%X", "9.4–15"},
        {"invalid record offset at %X/%X: expected at least %u, got %u", "16–"},
        {"contrecord is requested by %X/%X", "9.4–"},
        {"there is no contrecord flag at %X/%X", "9.4–"},
        {"invalid contrecord length %u at %X/%X", "9.4–13"},
        {"invalid contrecord length %u (expected %lld) at %X/%X", "14–"},
        {"invalid resource manager ID %u at %X/%X", "9.4–"},
        {"record with incorrect prev-link %X/%X at %X/%X", "9.4–"},
        {"incorrect resource manager data checksum in record at %X/%X", "9.4–"}},
       "where WAL stops being readable, and whether written WAL lies past it",
       {"start-server", "recover-backup", "from-wal", "reset"}},
      {"system-id-differs",
       "WAL from another cluster lies in pg_wal (10 and 11 log only the checkpoint they could not read)",
       {{"WAL file is from different database system: %s", "9.4–"},
        {"database system identifier differs between the primary and standby", "9.4–"}},
       "the system identifier in each WAL file's long header against pg_control's",
       {"from-wal", "reset"}},
      {"page-damaged",
       "data pages cannot be read: a checksum failure, a damaged header, a short file or lost TOAST",
       {{"invalid page in block %u of relation %s", "9.4–17"},
        {"invalid page in block %u of relation \"%s\"", "18–"},
        {"page verification failed, calculated checksum %u but expected %u", "9.4–18"},
        {"page verification failed, calculated checksum %u but expected %u%s", "20devel"},
        {"could not read block %u in file \"%s\": read only %d of %d bytes", "9.4–16"},
        {"could not read blocks %u..%u in file \"%s\": read only %zu of %zu bytes", "17–"},
        {"missing chunk number %d for toast value %u in %s", "9.4–"},
        {"unexpected chunk number %d (expected %d) for toast value %u in %s", "9.4–"},
        {"unexpected chunk number %d (out of range %d..%d) for toast value %u in %s", "9.4–"},
        {"catalog is missing %d attribute(s) for relid %u", "9.4–13"},
        {"pg_attribute catalog is missing %d attribute(s) for relation OID %u", "14–"}},
       "every data page's header and checksum (pgrescue-check)",
       {"check-pages"}},
      {"wraparound",
       "XID wraparound protection: the server stops assigning transaction IDs",
       {{"database is not accepting commands to avoid wraparound data loss in database \"%s\"", "9.4–16"},
        {"database is not accepting commands to avoid wraparound data loss in database with OID %u", "9.4–16"},
        {"database is not accepting commands that assign new transaction IDs to avoid wraparound data loss in "
         "database \"%s\"", "17–"},
        {"database is not accepting commands that assign new transaction IDs to avoid wraparound data loss in "
         "database with OID %u", "17–"},
        {"database is not accepting commands that generate new MultiXactIds to avoid wraparound data loss in "
         "database \"%s\"", "9.4–16"},
        {"database is not accepting commands that assign new MultiXactIds to avoid wraparound data loss in "
         "database \"%s\"", "17–"},
        {"database \"%s\" must be vacuumed within %u transactions", "9.4–"},
        {"database with OID %u must be vacuumed within %u transactions", "9.4–"}},
       "pg_control's next and oldest XIDs: how far the next is past the oldest",
       {"vacuum"}},
  };
  return classes;
}

}  // namespace pgrescue
