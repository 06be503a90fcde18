// What every pgrescue front end does alike: the data directory options,
// parsing with PostgreSQL-style errors, and exit code 2 for bad usage.
#pragma once

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace pgrescue::cli {

constexpr int kExitUnusable = 2;

inline int Fail(const char* progname, const std::string& message) {
  std::cerr << progname << ": error: " << message << "\n";
  return kExitUnusable;
}

// -D/--pgdata DIR or a lone DATADIR argument; PGDATA when neither is given.
class DataDirOption {
 public:
  explicit DataDirOption(CLI::App& app) {
    app.add_option("-D,--pgdata", option_, "data directory (default: $PGDATA)");
    app.add_option("DATADIR", positional_, "data directory, as an alternative to -D");
  }
  bool given() const { return !option_.empty() || !positional_.empty(); }
  // The directory, or nullopt after printing why there is none.
  std::optional<std::string> Resolve(const char* progname, bool use_env = true) const {
    if (!option_.empty() && !positional_.empty()) {
      Fail(progname, "give the data directory once, either with -D or as DATADIR");
      return std::nullopt;
    }
    std::string dir = !option_.empty() ? option_ : positional_;
    if (dir.empty() && use_env) {
      if (const char* env = std::getenv("PGDATA"); env != nullptr) dir = env;
    }
    if (dir.empty()) {
      Fail(progname, "no data directory specified; give -D DATADIR or set PGDATA");
      return std::nullopt;
    }
    return dir;
  }

 private:
  std::string option_;
  std::string positional_;
};

// Parses; on --help prints it and returns 0, on bad usage explains and
// returns 2; nullopt means go on.
inline std::optional<int> Parse(CLI::App& app, int argc, char** argv, const char* progname) {
  // As PostgreSQL's programs print theirs: "pg_resetwal (PostgreSQL) 15.18".
  app.set_version_flag("-V,--version", std::string(progname) + " (pgrescue) " PGRESCUE_VERSION,
                       "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << progname << ": error: " << e.what() << "\n"
              << "Try \"" << progname << " --help\" for more information.\n";
    return kExitUnusable;
  }
  return std::nullopt;
}

}  // namespace pgrescue::cli
