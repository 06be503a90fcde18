#include "libcontrol/cluster/postmaster_pid.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <vector>

#include <fmt/format.h>

namespace pgrescue {
namespace {

// Leading decimal, as atoi() and sscanf("%lu") read it: the server takes
// "123abc" as PID 123, so we must too.
template <typename T = int64_t>
std::optional<T> Leading(std::string_view s, size_t* end = nullptr) {
  size_t i = std::min(s.find_first_not_of(" \t"), s.size());
  i += i < s.size() && s[i] == '+' && (i + 1 == s.size() || s[i + 1] != '-');
  T v = 0;
  const auto [stop, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v);
  if (ec != std::errc()) return std::nullopt;
  if (end != nullptr) *end = static_cast<size_t>(stop - s.data());
  return v;
}

std::string Trimmed(std::string_view s) {
  const auto e = s.find_last_not_of(" \t\r");
  return e == std::string_view::npos ? std::string() : std::string(s.substr(0, e + 1));
}

}  // namespace

PostmasterPidFile ParsePostmasterPid(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t nl = std::min(text.find('\n'), text.size());
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(std::min(nl + 1, text.size()));
  }
  auto line = [&](size_t n) { return n <= lines.size() ? std::optional(lines[n - 1]) : std::nullopt; };
  PostmasterPidFile f;
  if (auto l = line(1)) {
    f.text_first_line = std::string(*l);
    if (auto v = Leading(*l); v && *v != 0 && *v >= -INT_MAX && *v <= INT_MAX) {
      f.single_user = *v < 0;
      f.pid = static_cast<long>(*v < 0 ? -*v : *v);
    }
  }
  if (auto l = line(2)) f.data_dir = std::string(*l);
  if (auto l = line(3)) f.start_time = Leading(*l);
  if (auto l = line(4)) f.port = Trimmed(*l);
  if (auto l = line(5)) f.socket_dir = std::string(*l);
  if (auto l = line(6)) f.listen_addr = Trimmed(*l);
  // "%9lu %9lu"; a key from an inode past 2^31 is written sign-extended.
  size_t end = 0;
  if (auto l = line(7)) {
    if (auto key = Leading<uint64_t>(*l, &end); key && end < l->size() && (*l)[end] == ' ') {
      if (auto id = Leading(l->substr(end)); id && *id >= 0) {
        f.shm_key = *key;
        f.shm_id = *id;
      }
    }
  }
  if (auto l = line(8)) f.status = Trimmed(*l);
  constexpr std::string_view kTag = "pgrescue-lock ";
  if (auto l = line(9); l && l->starts_with(kTag)) {
    size_t stop = 0;
    const auto rest = l->substr(kTag.size());
    if (auto pid = Leading(rest, &stop); pid && *pid > 0 && *pid <= INT_MAX) {
      f.writer_pid = static_cast<long>(*pid);
      f.writer_command = Trimmed(rest.substr(std::min(stop + 1, rest.size())));
    }
  }
  constexpr std::string_view kRescueTag = "pgrescue-rescue-dir ";
  if (auto l = line(10); l && f.writer_pid && l->starts_with(kRescueTag)) {
    f.writer_rescue_dir = std::string(l->substr(kRescueTag.size()));
  }
  return f;
}

std::string FormatWriterLock(long keeper_pid, const std::string& data_dir, int64_t start_time, long writer_pid,
                             const std::string& writer_command, const std::string& rescue_dir) {
  std::string command = writer_command;
  std::replace(command.begin(), command.end(), '\n', ' ');
  return fmt::format("{}\n{}\n{}\n\n\n\n\npgrescue\npgrescue-lock {} {}\npgrescue-rescue-dir {}\n", keeper_pid,
                     data_dir, start_time, writer_pid, command, rescue_dir);
}

}  // namespace pgrescue
