#include "libcontrol/salvage/binaries.h"
#include "libcontrol/base/shell_words.h"
#include "libcontrol/salvage/tool_output.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include <fmt/format.h>

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

// A program's first line of output, read through a pipe.
std::string FirstLine(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return {};
  char line[512] = {};
  const bool got = fgets(line, sizeof line, p) != nullptr;
  pclose(p);
  return got ? std::string(line) : std::string();
}

bool Executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

// Where to look after an explicit directory: pg_config's, Debian's, PATH's.
std::vector<std::string> CommonDirs() {
  std::vector<std::string> dirs;
  std::string cfg = FirstLine("pg_config --bindir 2>/dev/null");
  while (!cfg.empty() && (cfg.back() == '\n' || cfg.back() == ' ')) cfg.pop_back();
  if (!cfg.empty()) dirs.push_back(cfg);
  std::vector<std::pair<int, std::string>> debian;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    debian.emplace_back(MajorNumber(e.path().filename().string()), (e.path() / "bin").string());
  }
  std::sort(debian.rbegin(), debian.rend());
  for (auto& [n, d] : debian) dirs.push_back(d);
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string p = path;
    for (size_t at = 0; at <= p.size();) {
      const size_t end = std::min(p.find(':', at), p.size());
      if (end > at) dirs.push_back(p.substr(at, end - at));
      at = end + 1;
    }
  }
  // The same directory by several names (/bin and /usr/bin) once.
  std::vector<std::string> unique;
  std::set<std::string> seen;
  for (const auto& d : dirs) {
    std::error_code bad;
    const auto canonical = fs::canonical(d, bad);
    if (!bad && seen.insert(canonical.string()).second) unique.push_back(d);
  }
  return unique;
}

}  // namespace

int MajorNumber(const std::string& major) {
  const auto v = ParseVersionLine("(PostgreSQL) " + major);
  if (!v) return 0;
  const long a = std::stol(v->major);
  const long b = v->major.find('.') == std::string::npos ? 0 : std::stol(v->major.substr(v->major.find('.') + 1));
  return static_cast<int>(std::min(a * 100 + b, 100000000L));
}

std::optional<PostgresPrograms> ProgramVersion(const std::string& bindir, const std::string& program) {
  const std::string path = bindir + "/" + program;
  if (!Executable(path)) return std::nullopt;
  const auto v = ParseVersionLine(FirstLine(ShellQuote(path) + " --version 2>/dev/null"));
  if (!v) return std::nullopt;
  return PostgresPrograms{bindir, v->version, v->major};
}

Result<PostgresPrograms> FindServer(const std::string& major, const std::string& bindir) {
  if (!bindir.empty()) {
    auto p = ProgramVersion(bindir, "postgres");
    if (!p) return MakeError(ErrorCode::kNotFound, "no postgres program that says its version here", bindir);
    if (p->major != major) {
      return MakeError(ErrorCode::kInvalidArgument,
                       fmt::format("postgres here is {}, but the cluster is {} (PG_VERSION); a server of another "
                                   "major version refuses the data directory. Give the bin directory of a "
                                   "PostgreSQL {} installation",
                                   p->version, major, major),
                       bindir);
    }
    return *p;
  }
  std::vector<std::string> dirs = CommonDirs();
  dirs.insert(dirs.begin() + (dirs.empty() ? 0 : 1), "/usr/lib/postgresql/" + major + "/bin");
  std::string seen;
  for (const auto& d : dirs) {
    auto p = ProgramVersion(d, "postgres");
    if (p && p->major == major && Executable(d + "/pg_ctl")) return *p;
    if (p) seen += fmt::format("; {} has {}", d, p->version);
  }
  return MakeError(ErrorCode::kNotFound,
                   fmt::format("no PostgreSQL {} server found (looked in pg_config's bindir, /usr/lib/postgresql/*/bin "
                               "and PATH{}); install it or give --bindir",
                               major, seen));
}

DumpPrograms FindDump(const std::string& major, const std::string& bindir) {
  std::vector<std::string> dirs = CommonDirs();
  if (!bindir.empty()) dirs.insert(dirs.begin(), bindir);
  DumpPrograms out;
  std::string seen;
  for (const auto& d : dirs) {
    auto p = ProgramVersion(d, "pg_dump");
    if (!p) continue;
    const bool tools = Executable(d + "/pg_restore") && Executable(d + "/psql") && Executable(d + "/pg_dumpall");
    if (MajorNumber(p->major) >= MajorNumber(major) && tools) {
      out.found = *p;
      return out;
    }
    seen += fmt::format("{}{} has pg_dump {}{}", seen.empty() ? "" : "; ", d, p->version,
                        tools ? "" : " without pg_restore, pg_dumpall or psql");
  }
  out.missing = fmt::format("no pg_dump of PostgreSQL {} or newer (with pg_dumpall, pg_restore and psql beside it) "
                            "was found{}{}",
                            major, seen.empty() ? "" : ": ", seen);
  return out;
}

}  // namespace pgrescue
