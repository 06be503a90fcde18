#include "libcontrol/salvage/tool_output.h"

#include <charconv>

namespace pgrescue {
namespace {

// The digits at the front of `s`, consumed; nullopt when there are none.
std::optional<uint64_t> TakeNumber(std::string_view* s) {
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
  if (ec != std::errc() || end == s->data()) return std::nullopt;
  s->remove_prefix(static_cast<size_t>(end - s->data()));
  return n;
}

// An identifier as pg_dump's fmtId writes it: bare, or in double quotes
// with quotes doubled; consumed.
std::optional<std::string> TakeIdentifier(std::string_view* s) {
  std::string out;
  if (s->starts_with("\"")) {
    for (size_t i = 1; i < s->size(); ++i) {
      if ((*s)[i] != '"') {
        out += (*s)[i];
      } else if (i + 1 < s->size() && (*s)[i + 1] == '"') {
        out += '"';
        ++i;
      } else {
        s->remove_prefix(i + 1);
        return out;
      }
    }
    return std::nullopt;
  }
  const size_t end = std::min(s->find_first_of(". "), s->size());
  if (end == 0) return std::nullopt;
  out = s->substr(0, end);
  s->remove_prefix(end);
  return out;
}

// Every "<mark><schema>.<table> " in `text`: the table a quoted COPY reads.
void CopiedTablesAfter(std::string_view text, std::string_view mark, std::set<TableKey>* names) {
  for (size_t at = text.find(mark); at != std::string_view::npos; at = text.find(mark, at + 1)) {
    std::string_view rest = text.substr(at + mark.size());
    auto schema = TakeIdentifier(&rest);
    if (!schema || !rest.starts_with(".")) continue;
    rest.remove_prefix(1);
    auto table = TakeIdentifier(&rest);
    if (table && rest.starts_with(" ")) names->emplace(*schema, *table);
  }
}

}  // namespace

std::optional<VersionLine> ParseVersionLine(std::string_view line) {
  constexpr std::string_view kMark = "(PostgreSQL) ";
  const auto at = line.find(kMark);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = line.substr(at + kMark.size());
  std::vector<uint64_t> parts;
  while (parts.size() < 3) {
    const auto n = TakeNumber(&rest);
    if (!n) break;
    parts.push_back(*n);
    if (rest.empty() || rest.front() != '.') break;
    rest.remove_prefix(1);
  }
  // No release numbers anywhere near 10^6, and none 0; such are not a version.
  if (parts.empty() || parts[0] == 0 || (parts[0] < 10 && parts.size() < 2) || parts[0] > 1000000 ||
      (parts.size() > 1 && parts[1] > 1000000)) {
    return std::nullopt;
  }
  VersionLine v;
  for (size_t i = 0; i < parts.size(); ++i) v.version += (i ? "." : "") + std::to_string(parts[i]);
  v.major = parts[0] >= 10 ? std::to_string(parts[0]) : std::to_string(parts[0]) + "." + std::to_string(parts[1]);
  return v;
}

std::set<TableKey> TablesPgDumpCouldNotRead(std::string_view output) {
  constexpr std::string_view kStart = "Dumping the contents of table \"", kEnd = "\" failed";
  std::set<TableKey> names;
  for (size_t at = output.find(kStart); at != std::string_view::npos; at = output.find(kStart, at + 1)) {
    const size_t from = at + kStart.size();
    const size_t line_end = output.find('\n', from);
    const size_t end = output.find(kEnd, from);
    if (end != std::string_view::npos && end < line_end) names.emplace("", output.substr(from, end - from));
  }
  for (std::string_view mark : {"Query was: COPY ", "Command was: COPY "}) CopiedTablesAfter(output, mark, &names);
  return names;
}

std::set<TableKey> TablesServerCrashedOn(std::string_view server_log) {
  std::set<TableKey> names;
  CopiedTablesAfter(server_log, "Failed process was running: COPY ", &names);
  return names;
}

bool ServerCrashed(std::string_view server_log) {
  // Logged by the postmaster before it signals the other processes, so
  // already there when a client of theirs sees its session end; "all
  // server processes terminated; reinitializing" comes only later.
  return server_log.find("terminating any other active server processes") != std::string_view::npos;
}

std::map<uint32_t, uint64_t> TableDataIds(std::string_view listing) {
  constexpr std::string_view kData = " TABLE DATA ";
  std::map<uint32_t, uint64_t> ids;
  while (!listing.empty()) {
    const size_t eol = std::min(listing.find('\n'), listing.size());
    std::string_view line = listing.substr(0, eol);
    listing.remove_prefix(std::min(eol + 1, listing.size()));
    const auto id = TakeNumber(&line);
    if (!id || !line.starts_with("; ")) continue;
    line.remove_prefix(2);
    const auto table_oid_column = TakeNumber(&line);  // 0 for TABLE DATA: it has no catalog row
    if (!table_oid_column || !line.starts_with(" ")) continue;
    line.remove_prefix(1);
    const auto oid = TakeNumber(&line);
    if (oid && *oid <= UINT32_MAX && line.starts_with(kData)) ids[static_cast<uint32_t>(*oid)] = *id;
  }
  return ids;
}

std::optional<std::pair<uint64_t, std::string>> ZeroedBlock(std::string_view notice) {
  constexpr std::string_view kStart = "invalid page in block ", kOf = " of relation ", kEnd = "; zeroing out page";
  if (!notice.starts_with(kStart) || !notice.ends_with(kEnd)) return std::nullopt;
  std::string_view rest = notice.substr(kStart.size(), notice.size() - kStart.size() - kEnd.size());
  const auto block = TakeNumber(&rest);
  if (!block || !rest.starts_with(kOf)) return std::nullopt;
  return std::make_pair(*block, std::string(rest.substr(kOf.size())));
}

}  // namespace pgrescue
