#include "libcontrol/cluster/server_log.h"

#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "libcontrol/base/file_bytes.h"

namespace pgrescue {
namespace fs = std::filesystem;
namespace {

constexpr size_t kTailBytes = 8 << 20;

// elog.c's severity words, then the secondary fields it writes on lines of
// their own.
constexpr std::array<std::string_view, 16> kWords = {
    "DEBUG1", "DEBUG2", "DEBUG3", "DEBUG4", "DEBUG5", "LOG",    "INFO",      "NOTICE",
    "WARNING", "ERROR", "FATAL",  "PANIC",  "DETAIL", "HINT", "CONTEXT", "STATEMENT"};

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Takes the next line (without its newline) off the front of `text`.
bool NextLine(std::string_view* text, std::string_view* line) {
  if (text->empty()) return false;
  const size_t nl = std::min(text->find('\n'), text->size());
  *line = text->substr(0, nl);
  text->remove_prefix(std::min(nl + 1, text->size()));
  return true;
}

// The severity word of a stderr line and where its text starts, found as
// the first "WORD:  " not preceded by a letter or digit (the prefix is free).
bool SplitStderrLine(std::string_view line, std::string* word, std::string_view* rest) {
  size_t best = std::string_view::npos;
  std::string_view found;
  for (std::string_view w : kWords) {
    for (size_t at = line.find(w); at != std::string_view::npos && at < best; at = line.find(w, at + 1)) {
      const bool boundary = at == 0 || !std::isalnum(static_cast<unsigned char>(line[at - 1]));
      if (boundary && line.substr(at + w.size(), 3) == ":  ") {
        best = at;
        found = w;
        break;
      }
    }
  }
  if (best == std::string_view::npos) return false;
  *word = std::string(found);
  *rest = line.substr(best + found.size() + 3);
  return true;
}

void Attach(std::vector<LogMessage>* out, const std::string& word, std::string text, size_t line) {
  if ((word == "DETAIL" || word == "HINT") && !out->empty()) {
    (word == "DETAIL" ? out->back().detail : out->back().hint) = std::move(text);
  } else if (word != "CONTEXT" && word != "STATEMENT" && word != "DETAIL" && word != "HINT") {
    out->push_back(LogMessage{word, std::move(text), "", "", line});
  }
}

std::vector<LogMessage> ParseStderr(std::string_view text) {
  std::vector<LogMessage> out;
  std::string* continued = nullptr;  // the field a tab-led line continues
  size_t number = 0;
  for (std::string_view line; NextLine(&text, &line);) {
    ++number;
    if (line.empty()) continue;
    if (line[0] == '\t') {
      if (continued != nullptr) *continued += "\n" + std::string(line.substr(1));
      continue;
    }
    std::string word;
    std::string_view rest;
    if (!SplitStderrLine(line, &word, &rest)) {
      word.clear();
      rest = line;
    }
    const size_t before = out.size();
    Attach(&out, word, std::string(rest), number);
    continued = out.size() > before ? &out.back().text
                : word == "DETAIL" && !out.empty() ? &out.back().detail
                : word == "HINT" && !out.empty()   ? &out.back().hint
                                                   : nullptr;
  }
  return out;
}

// RFC 4180 as csvlog writes it: quoted fields with "" for a quote, records
// that span lines.
std::vector<LogMessage> ParseCsv(std::string_view text) {
  std::vector<LogMessage> out;
  std::vector<std::string> fields(1);
  bool quoted = false;
  size_t number = 1, record_line = 1;
  auto finish = [&] {
    if (fields.size() >= 14) {
      out.push_back(LogMessage{fields[11], fields[13], fields.size() > 14 ? fields[14] : "",
                               fields.size() > 15 ? fields[15] : "", record_line});
    }
    fields.assign(1, "");
    record_line = number;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') ++number;
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c == '\n') {
      finish();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  if (fields.size() > 1) finish();
  return out;
}

std::vector<LogMessage> ParseJson(std::string_view text) {
  std::vector<LogMessage> out;
  size_t number = 0;
  for (std::string_view line; NextLine(&text, &line);) {
    ++number;
    // Only an object is a message; anything else is not worth the parser's
    // error (it builds one even when told not to throw). The parser skips a
    // byte-order mark, then blanks; so does this.
    const std::string_view body = line.starts_with("\xEF\xBB\xBF") ? line.substr(3) : line;
    const size_t open = body.find_first_not_of(" \t\r");
    const auto j = open != std::string_view::npos && body[open] == '{' ? nlohmann::json::parse(line, nullptr, false)
                                                                       : nlohmann::json();
    if (!j.is_object()) {
      if (!line.empty()) out.push_back(LogMessage{"", std::string(line), "", "", number});
      continue;
    }
    auto field = [&](const char* key) {
      const auto it = j.find(key);
      return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    out.push_back(LogMessage{field("error_severity"), field("message"), field("detail"), field("hint"), number});
  }
  return out;
}

bool StartsRun(const LogMessage& m) { return StartsWith(m.text, "starting PostgreSQL "); }
bool StartsRecovery(const LogMessage& m) {
  return StartsWith(m.text, "database system was ") || StartsWith(m.text, "database system shutdown was interrupted");
}
bool EndsRun(const LogMessage& m) { return m.text == "database system is shut down"; }

// log_filename's strftime escapes as a glob: any escape stands for any text.
std::string FileNameGlob(std::string_view pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size()) {
      out += pattern[++i] == '%' ? "%" : "*";
    } else if (pattern[i] == '*' || pattern[i] == '?' || pattern[i] == '[' || pattern[i] == '\\') {
      out += std::string("\\") + pattern[i];
    } else {
      out += pattern[i];
    }
  }
  return out;
}

// syslogger.c's names for csvlog and jsonlog: ".log" replaced, else appended.
std::string WithExtension(std::string name, std::string_view ext) {
  if (name.size() >= 4 && name.compare(name.size() - 4, 4, ".log") == 0) name.resize(name.size() - 4);
  return name + std::string(ext);
}

std::string Setting(const DataDir& dir, const std::string& name, std::string fallback) {
  const auto it = dir.settings.find(name);
  return it == dir.settings.end() ? fallback : it->second;
}

}  // namespace

std::string_view LogFormatName(LogFormat f) {
  switch (f) {
    case LogFormat::kStderr: return "stderr";
    case LogFormat::kCsv: return "csvlog";
    case LogFormat::kJson: return "jsonlog";
  }
  return "?";
}

LogFormat SniffLogFormat(std::string_view text, std::string_view file_name) {
  auto ends = [&](std::string_view e) {
    return file_name.size() >= e.size() && file_name.substr(file_name.size() - e.size()) == e;
  };
  if (ends(".csv")) return LogFormat::kCsv;
  if (ends(".json")) return LogFormat::kJson;
  const std::string_view first = text.substr(0, text.find('\n'));
  if (StartsWith(first, "{\"timestamp\"")) return LogFormat::kJson;
  // csvlog's first two columns: a timestamp, then the user name (often empty).
  const size_t comma = first.find(',');
  if (comma != std::string_view::npos && comma >= 19 && std::isdigit(static_cast<unsigned char>(first[0])) &&
      first.find(',', comma + 1) != std::string_view::npos && first.find(":  ") == std::string_view::npos) {
    return LogFormat::kCsv;
  }
  return LogFormat::kStderr;
}

std::vector<LogMessage> ParseServerLog(std::string_view text, LogFormat format) {
  switch (format) {
    case LogFormat::kCsv: return ParseCsv(text);
    case LogFormat::kJson: return ParseJson(text);
    case LogFormat::kStderr: break;
  }
  return ParseStderr(text);
}

std::vector<LogMessage> LastServerRun(const std::vector<LogMessage>& all) {
  size_t start = 0;
  bool started = false;  // "starting PostgreSQL" seen since `start`
  for (size_t i = 0; i < all.size(); ++i) {
    if (StartsRun(all[i])) {
      start = i;
      started = true;
    } else if (StartsRecovery(all[i]) && !started) {
      start = i;
    } else if (EndsRun(all[i]) && i + 1 < all.size()) {
      start = i + 1;
      started = false;
    }
  }
  return {all.begin() + static_cast<std::ptrdiff_t>(start), all.end()};
}

Result<ServerLog> ReadServerLog(const std::string& path) {
  if (std::error_code ec; fs::is_directory(path, ec)) {
    return MakeError(ErrorCode::kInvalidArgument, "is a directory: give the server's log file itself", path);
  }
  const int fd = OpenRegularFile(path);
  if (fd < 0) return MakeError(ErrorCode::kIo, fmt::format("could not open the server log: {}", strerror(errno)), path);
  struct stat st {};
  fstat(fd, &st);
  const auto size = static_cast<size_t>(std::max<off_t>(st.st_size, 0));
  const size_t from = size > kTailBytes ? size - kTailBytes : 0;
  std::string text(size - from, '\0');
  const ssize_t n = pread(fd, text.data(), text.size(), static_cast<off_t>(from));
  close(fd);
  if (n < 0) return MakeError(ErrorCode::kIo, "could not read the server log", path);
  text.resize(static_cast<size_t>(n));
  if (from > 0) text.erase(0, std::min(text.find('\n') + 1, text.size()));  // a cut first line
  ServerLog log;
  log.source = path;
  log.format = SniffLogFormat(text, fs::path(path).filename().string());
  log.messages = LastServerRun(ParseServerLog(text, log.format));
  return log;
}

ServerLog SymptomLog(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  ServerLog log;
  log.source = "--symptom";
  log.messages = ParseStderr(text);
  for (auto& m : log.messages) {
    // "PANIC: could not ..." as typed, with one space.
    for (std::string_view w : kWords) {
      if (m.severity.empty() && StartsWith(m.text, std::string(w) + ": ")) {
        m.severity = std::string(w);
        m.text.erase(0, w.size() + 2);
      }
    }
  }
  return log;
}

std::vector<std::string> FindServerLogs(const DataDir& dir) {
  std::vector<std::pair<fs::file_time_type, std::string>> found;
  std::error_code ec;
  const bool old = dir.pg_version && StartsWith(*dir.pg_version, "9.");
  fs::path log_dir = Setting(dir, "log_directory", old ? "pg_log" : "log");
  if (log_dir.is_relative()) log_dir = fs::path(dir.root) / log_dir;
  const std::string pattern = Setting(dir, "log_filename", "postgresql-%Y-%m-%d_%H%M%S.log");
  const std::array<std::string, 3> globs = {FileNameGlob(pattern), FileNameGlob(WithExtension(pattern, ".csv")),
                                            FileNameGlob(WithExtension(pattern, ".json"))};
  for (fs::directory_iterator it(log_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const bool matches = std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
      return fnmatch(g.c_str(), name.c_str(), 0) == 0;
    });
    std::error_code e2;
    if (matches && it->is_regular_file(e2)) found.emplace_back(it->last_write_time(e2), it->path().string());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  if (dir.pg_version) {
    fs::path root = fs::path(dir.root).lexically_normal();
    if (root.filename().empty()) root = root.parent_path();
    const auto debian =
        fmt::format("/var/log/postgresql/postgresql-{}-{}.log", *dir.pg_version, root.filename().string());
    if (fs::is_regular_file(debian, ec)) out.push_back(debian);
  }
  return out;
}

}  // namespace pgrescue
