// The server's own account of what went wrong: its log, read as it wrote
// it. A DBA arrives with "PANIC: could not locate a valid checkpoint
// record", not with a data directory analysis; the planner starts from the
// same words.
//
// Three formats: stderr (any log_line_prefix: a message is found by its
// severity word followed by ":  ", as elog.c writes it), csvlog (columns
// 12, 14, 15 and 16 are severity, message, detail and hint in every version
// since 8.3) and jsonlog (15+, one object a line). Only the English words
// are recognised; a server with another lc_messages is read as lines
// without severity.
//
// Nothing here writes. A log may be gigabytes: only its last 8 MiB are read.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "libcontrol/base/result.h"
#include "libcontrol/cluster/data_dir.h"

namespace pgrescue {

enum class LogFormat { kStderr, kCsv, kJson };
std::string_view LogFormatName(LogFormat f);

struct LogMessage {
  std::string severity;  // "PANIC", "FATAL", "LOG", ...; empty for a line without one (pg_ctl's own)
  std::string text;      // the primary message, continuation lines joined with "\n"
  std::string detail, hint;
  size_t line = 0;       // where it starts in what was read, from 1
};

// From the file's name (.csv, .json) or, failing that, its first line.
LogFormat SniffLogFormat(std::string_view text, std::string_view file_name);

// Every message, in order. DETAIL and HINT lines attach to the message
// before them; CONTEXT, STATEMENT and QUERY lines are dropped. Never fails:
// what does not parse is kept as a line without severity.
std::vector<LogMessage> ParseServerLog(std::string_view text, LogFormat format);

// The messages of the last attempt to run the server: from the last line
// that starts one ("starting PostgreSQL", or "database system was ..." where
// no such line precedes it, as before 10) or that follows a finished run
// ("database system is shut down"), to the end.
std::vector<LogMessage> LastServerRun(const std::vector<LogMessage>& all);

struct ServerLog {
  std::string source;  // the file, or "--symptom"
  LogFormat format = LogFormat::kStderr;
  std::vector<LogMessage> messages;  // the last run only
};

// Reads a log file's last 8 MiB and keeps its last run.
Result<ServerLog> ReadServerLog(const std::string& path);

// A line pasted by a DBA, with or without its prefix ("2026-11-21 ... PANIC:
// could not ..."); a line without a severity word is taken whole as the
// message.
ServerLog SymptomLog(const std::vector<std::string>& lines);

// Where this cluster's server writes its log, newest first, existing files
// only: the logging collector's directory and file name pattern from
// postgresql.conf and postgresql.auto.conf ("log" or "pg_log" inside the
// data directory by default; .csv and .json beside .log), then Debian's
// /var/log/postgresql/postgresql-<major>-<cluster>.log.
std::vector<std::string> FindServerLogs(const DataDir& dir);

}  // namespace pgrescue
