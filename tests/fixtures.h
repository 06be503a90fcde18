// Access to the real-server fixtures copied into fixtures/.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "libcontrol/control/control_layout.h"

namespace pgrescue::testing {

inline std::filesystem::path FixturesDir() { return PGRESCUE_FIXTURES_DIR; }

// pg94 … pg19, oldest first: one fixture folder per entry of the version
// table (control_layout_test checks the folders match).
inline std::vector<std::string> FixtureVersions() {
  std::vector<std::string> out;
  for (const auto& l : AllControlLayouts()) {
    std::string name = "pg";
    for (char c : l.major()) {
      if (c != '.') name += c;
    }
    out.push_back(name);
  }
  return out;
}

// An empty directory of its own under the temp directory, removed with
// everything in it when it goes out of scope.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("pgrescue-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A private copy of fixtures/sample-cluster, removed when it goes out of
// scope. Tools that check who uses a directory must run on a copy: another
// test copying the fixture at the same time has its files open, and the tool
// rightly reports the directory as in use.
class SampleClusterCopy {
 public:
  explicit SampleClusterCopy(const std::string& name) : dir_(name) {
    std::filesystem::copy(FixturesDir() / "sample-cluster", dir_.path(), std::filesystem::copy_options::recursive);
  }
  const std::filesystem::path& path() const { return dir_.path(); }

 private:
  ScratchDir dir_;
};

inline const std::vector<std::string>& ControlStates() {
  static const std::vector<std::string> states = {"initdb", "running", "shutdown"};
  return states;
}

inline std::vector<uint8_t> ReadBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::optional<std::string> ReadText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A gzip file's contents (the WAL heads), through the system's gzip.
inline std::vector<uint8_t> Gunzip(const std::filesystem::path& p) {
  std::vector<uint8_t> out;
  FILE* pipe = popen(("gzip -dc '" + p.string() + "'").c_str(), "r");
  if (pipe == nullptr) return out;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.insert(out.end(), buf, buf + n);
  pclose(pipe);
  return out;
}

inline std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace pgrescue::testing
