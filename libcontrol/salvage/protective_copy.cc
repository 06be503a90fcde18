#include "libcontrol/salvage/protective_copy.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "libcontrol/salvage/process.h"

namespace pgrescue {
namespace {

namespace fs = std::filesystem;

uint64_t TreeBytes(const fs::path& root) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    struct stat st {};
    if (lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

// The directories a data directory reaches through links: pg_wal (pg_xlog)
// and each tablespace, as (path of the link inside, target).
std::vector<std::pair<std::string, fs::path>> LinkedDirs(const fs::path& data_dir) {
  std::vector<std::pair<std::string, fs::path>> out;
  std::error_code ec;
  // A dangling link is left out: CheckCopyable refuses it as one.
  for (const char* wal : {"pg_wal", "pg_xlog"}) {
    if (!fs::is_symlink(data_dir / wal, ec)) continue;
    auto target = fs::canonical(data_dir / wal, ec);
    if (!ec) out.emplace_back(wal, target);
  }
  for (const auto& e : fs::directory_iterator(data_dir / "pg_tblspc", ec)) {
    std::error_code bad;
    if (!fs::is_symlink(e.path(), bad)) continue;
    auto target = fs::canonical(e.path(), bad);
    if (!bad) out.emplace_back("pg_tblspc/" + e.path().filename().string(), target);
  }
  return out;
}

// Whether `dest_dir`'s filesystem clones files from `data_dir`'s.
bool CanReflink(const fs::path& data_dir, const fs::path& dest_dir) {
  const int src = open((data_dir / "PG_VERSION").c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) return false;
  const fs::path probe = dest_dir / ".pgrescue-reflink-probe";
  const int dst = open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  bool ok = false;
  if (dst >= 0) {
    ok = ioctl(dst, FICLONE, src) == 0;
    close(dst);
    unlink(probe.c_str());
  }
  close(src);
  return ok;
}

Status Copy(const fs::path& from, const fs::path& to, const std::string& log_path) {
  auto run = RunProgram({"/bin/cp", "-a", "--reflink=auto", "--no-target-directory", from.string(), to.string()},
                        log_path);
  if (!run) return run.error();
  if (!run->ok()) return MakeError(ErrorCode::kIo, "the copy failed: " + run->output, to.string());
  return {};
}

}  // namespace

Status CheckCopyable(const std::string& data_dir, bool in_place, const std::vector<std::string>& outputs) {
  std::error_code ec;
  const fs::path root = fs::canonical(data_dir, ec);
  std::vector<fs::path> originals = {root};
  for (const auto& [link, target] : LinkedDirs(root)) originals.push_back(target);
  for (const auto& out : outputs) {
    if (out.empty()) continue;
    const fs::path where = fs::weakly_canonical(out, ec);
    for (const auto& original : originals) {
      const auto [end, rest] = std::mismatch(original.begin(), original.end(), where.begin(), where.end());
      if (end == original.end()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "lies inside the cluster's files (" + original.string() + "); give a directory outside it", out);
      }
    }
  }
  if (in_place) return {};
  const auto linked = LinkedDirs(root);
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_symlink(ec)) continue;
    // Not fs::relative: it resolves the link itself, and pg_wal's would then
    // name its target, which no entry of LinkedDirs matches.
    const std::string rel = it->path().lexically_relative(root).string();
    const bool handled = std::any_of(linked.begin(), linked.end(), [&](const auto& l) { return l.first == rel; });
    // A configuration file kept elsewhere is only read.
    const bool config = rel.find('/') == std::string::npos && rel.ends_with(".conf") && fs::is_regular_file(it->path(), ec);
    if (!handled && !config) {
      if (!fs::exists(it->path(), ec)) {
        return MakeError(ErrorCode::kInvalidArgument, "is a symbolic link to nothing (" +
                         fs::read_symlink(it->path(), ec).string() + "); put back what it named", it->path().string());
      }
      return MakeError(ErrorCode::kInvalidArgument,
                       "is a symbolic link; a copy would let the server write through it into the original. "
                       "Copy the cluster yourself with the link resolved, or use --in-place",
                       it->path().string());
    }
    if (it->is_directory(ec)) it.disable_recursion_pending();
  }
  return {};
}

uint64_t DataDirBytes(const std::string& data_dir) {
  uint64_t total = TreeBytes(data_dir);
  for (const auto& [link, target] : LinkedDirs(data_dir)) total += TreeBytes(target);
  return total;
}

Result<CopyOutcome> CopyDataDirectory(const std::string& data_dir, const std::string& dest,
                                      const std::string& tablespace_dir, const std::string& log_path) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path parent = fs::path(dest).parent_path();
  CopyOutcome out;
  out.bytes = DataDirBytes(data_dir);
  out.method = CanReflink(data_dir, parent) ? "reflink" : "copy";
  struct statvfs vfs {};
  if (out.method == "copy" && statvfs(parent.c_str(), &vfs) == 0) {
    const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    // Crash recovery and the dump's server write more WAL and files.
    const uint64_t needed = out.bytes + out.bytes / 20 + (uint64_t{64} << 20);
    if (free_bytes < needed) {
      return MakeError(ErrorCode::kIo,
                       fmt::format("a copy of the data directory needs about {} MB, but its filesystem has {} MB "
                                   "free and cannot clone files; free space, give --out on a larger filesystem, or "
                                   "use --in-place (the original is then started and written)",
                                   needed >> 20, free_bytes >> 20),
                       parent.string());
    }
  }
  // A copy whose links still lead to the original must not survive a failure.
  auto fail = [&](const Error& e) -> Result<CopyOutcome> {
    std::error_code ec;
    fs::remove_all(dest, ec);
    fs::remove_all(dest + ".pg_wal", ec);
    fs::remove_all(tablespace_dir, ec);
    return e;
  };
  if (auto s = Copy(data_dir, dest, log_path); !s) return fail(s.error());
  for (const auto& [link, target] : LinkedDirs(data_dir)) {
    const fs::path copy = link.starts_with("pg_tblspc/") ? fs::path(tablespace_dir) / fs::path(link).filename()
                                                         : fs::path(dest + ".pg_wal");
    std::error_code ec;
    fs::remove(fs::path(dest) / link, ec);
    fs::create_directories(copy.parent_path(), ec);
    if (auto s = Copy(target, copy, log_path); !s) return fail(s.error());
    fs::create_directory_symlink(fs::absolute(copy), fs::path(dest) / link, ec);
    if (ec) return fail(MakeError(ErrorCode::kIo, "cannot point the copy's link at its copy: " + ec.message(), link));
  }
  // The original's lock file names a process that is gone, or by now another
  // one, which the server would take for a running postmaster.
  std::error_code ec;
  fs::remove(fs::path(dest) / "postmaster.pid", ec);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace pgrescue
