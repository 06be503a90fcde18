#include "libcontrol/cluster/liveness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "libcontrol/base/file_bytes.h"

namespace pgrescue {
namespace {

constexpr size_t kServerReadLimit = 2303;  // the server reads MAXPGPATH * 2 + 256 - 1 bytes
constexpr int32_t kShmemMagic = 679834894;

// PGShmemHeader as 9.4-19 declare it, in this platform's C layout: the
// server compares device and inode with its data directory's stat().
struct ShmemHeader {
  int32_t magic;
  pid_t creator_pid;
  size_t total_size, free_offset;
  uint32_t dsm_control;
  void* index;
  dev_t device;
  ino_t inode;
};

// At most `limit` bytes in one read (enough for procfs); false with errno set
// when it cannot be opened or is not a regular file (a FIFO would block).
bool ReadSmall(const std::string& path, size_t limit, std::string* out) {
  const int fd = OpenRegularFile(path);
  if (fd < 0) return false;
  out->resize(limit);
  const ssize_t n = read(fd, out->data(), limit);
  close(fd);
  out->resize(n > 0 ? static_cast<size_t>(n) : 0);
  return true;
}

// A /proc link's target; the kernel marks unlinked files " (deleted)".
std::optional<std::string> Link(const std::string& path) {
  char buf[PATH_MAX];
  const ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  if (n < 0) return std::nullopt;
  std::string s(buf, static_cast<size_t>(n));
  if (s.ends_with(" (deleted)")) s.resize(s.size() - 10);
  return s;
}

std::optional<std::string> RealPath(const std::string& path) {
  char* p = realpath(path.c_str(), nullptr);
  if (p == nullptr) return std::nullopt;
  std::string s(p);
  free(p);
  return s;
}

// This process has `path` open: its own lock, not another run's with a reused PID.
bool OpenHereAlready(const std::string& path) {
  struct stat target {};
  if (stat(path.c_str(), &target) != 0) return false;
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) return false;
  bool found = false;
  while (const dirent* e = readdir(fds)) {
    struct stat st {};
    if (e->d_name[0] != '.' && stat(fmt::format("/proc/self/fd/{}", e->d_name).c_str(), &st) == 0 &&
        st.st_dev == target.st_dev && st.st_ino == target.st_ino) {
      found = true;
    }
  }
  closedir(fds);
  return found;
}

bool Inside(const std::string& path, const std::string& root) {
  return path.starts_with(root) && (path.size() == root.size() || path[root.size()] == '/' || root == "/");
}

}  // namespace

bool WriterLockHeld(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  const bool held = fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  if (fd >= 0) close(fd);
  return held;
}

std::string ProcessCommand(long pid) {
  std::string text;
  ReadSmall(fmt::format("/proc/{}/cmdline", pid), 4096, &text);
  std::replace(text.begin(), text.end(), '\0', ' ');
  auto trim = [](std::string& t) { t.erase(std::min(t.find_last_not_of(" \t\r\n") + 1, t.size())); };
  trim(text);
  if (text.empty() && ReadSmall(fmt::format("/proc/{}/comm", pid), 64, &text)) {
    trim(text);
    text = "[" + text + "]";
  }
  std::erase(text, '\n');
  return text.size() > 120 ? text.substr(0, 117) + "..." : text;
}

namespace {

// `denied` is set when the kernel would not let us look.
SharedMemoryState InspectSegment(uint64_t key, int64_t id, const struct stat& dir, std::string* denied) {
  SharedMemoryState s;
  s.key = key;
  s.id = id;
  shmid_ds ds{};
  if (id < 0 || id > INT_MAX) return s;
  if (shmctl(static_cast<int>(id), IPC_STAT, &ds) != 0) {
    // EINVAL and, on Linux, EIDRM mean the segment is gone.
    if (errno == EACCES || errno == EPERM) *denied = fmt::format("shared memory ID {}: {}", id, strerror(errno));
    return s;
  }
  s.exists = true;
  s.attached = ds.shm_nattch;
  s.creator_pid = ds.shm_cpid;
  s.last_pid = ds.shm_lpid;
  // Attaching only where processes already are cannot change what a
  // starting server concludes; an unattached segment needs no owner.
  if (s.attached == 0) return s;
  s.this_directory = false;
  if (ds.shm_segsz < sizeof(ShmemHeader)) return s;
  void* p = shmat(static_cast<int>(id), nullptr, SHM_RDONLY);
  if (p == reinterpret_cast<void*>(-1)) {
    *denied = fmt::format("shared memory ID {}: reading its header: {}", id, strerror(errno));
    s.this_directory.reset();
    return s;
  }
  ShmemHeader h;
  std::memcpy(&h, p, sizeof h);
  shmdt(p);
  s.this_directory = h.magic == kShmemMagic && h.device == dir.st_dev && h.inode == dir.st_ino;
  return s;
}

// Without a usable line 7 (lock file deleted, crash before it was written,
// ID reused by another cluster) the server still finds its old segment by
// probing keys; we look at every attached segment instead.
std::optional<SharedMemoryState> FindSegmentOf(const struct stat& dir, std::vector<std::string>* limits) {
  std::ifstream in("/proc/sysvipc/shm");
  std::string line, denied;
  if (!in || !std::getline(in, line)) {
    limits->push_back("/proc/sysvipc/shm is not readable: segments not in postmaster.pid were not checked");
    return std::nullopt;
  }
  int unreadable = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    long long key = 0, id = 0, size = 0, cpid = 0, lpid = 0, nattch = 0;
    std::string perms;
    if (!(fields >> key >> id >> perms >> size >> cpid >> lpid >> nattch) || nattch == 0) continue;
    denied.clear();
    auto s = InspectSegment(static_cast<uint64_t>(key), id, dir, &denied);  // the server prints key_t as %lu
    unreadable += !denied.empty();
    if (s.this_directory == true) {
      s.from_pid_file = false;
      return s;
    }
  }
  if (unreadable > 0) limits->push_back(fmt::format("{} attached shared memory segments were unreadable", unreadable));
  return std::nullopt;
}

bool AttachedTo(long pid, int64_t shm_id) {
  std::ifstream in(fmt::format("/proc/{}/maps", pid));
  std::string line, range, perms, offset, dev;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    long long inode = -1;  // a SysV mapping's inode is its ID
    if (line.find("/SYSV") != std::string::npos && fields >> range >> perms >> offset >> dev >> inode &&
        inode == shm_id) {
      return true;
    }
  }
  return false;
}

// Where a path lies: "" for the data directory itself, a relative path
// below it, the full path in a tablespace or moved WAL directory.
struct Roots {
  std::string root;
  std::vector<std::string> outside;
  std::optional<std::string> Where(const std::string& path) const {
    if (Inside(path, root)) return path.size() == root.size() ? "" : path.substr(root.size() + 1);
    for (const auto& r : outside) {
      if (Inside(path, r)) return path;
    }
    return std::nullopt;
  }
};

Roots FindRoots(const std::string& root) {
  Roots roots{root, {}};
  std::vector<std::string> links = {root + "/pg_wal", root + "/pg_xlog"};
  if (DIR* d = opendir((root + "/pg_tblspc").c_str())) {
    while (const dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') links.push_back(root + "/pg_tblspc/" + e->d_name);
    }
    closedir(d);
  }
  for (const auto& l : links) {
    if (auto r = RealPath(l); r && !roots.Where(*r)) roots.outside.push_back(*r);
  }
  return roots;
}

// Every way process `pid` uses the directory; *hidden when /proc refuses.
std::vector<std::string> Uses(long pid, const Roots& roots, const struct stat& dir, int64_t shm_id, bool* hidden) {
  std::vector<std::string> how;
  const std::string base = fmt::format("/proc/{}", pid);
  const auto cwd = Link(base + "/cwd");
  *hidden = !cwd && errno != ENOENT;
  // The inode also matches a process in another mount namespace (a container).
  struct stat st {};
  const auto where = cwd ? roots.Where(*cwd) : std::nullopt;
  if ((where && where->empty()) ||
      (stat((base + "/cwd").c_str(), &st) == 0 && st.st_dev == dir.st_dev && st.st_ino == dir.st_ino)) {
    how.push_back("working directory is the data directory");
  } else if (where) {
    how.push_back("working directory is " + *where);
  }
  if (shm_id >= 0 && AttachedTo(pid, shm_id)) how.push_back("attached to the shared memory segment");
  std::string first;
  int count = 0;
  if (DIR* fds = opendir((base + "/fd").c_str())) {
    while (const dirent* fd = readdir(fds)) {
      const auto target = fd->d_name[0] == '.' ? std::nullopt : Link(base + "/fd/" + fd->d_name);
      const auto w = target ? roots.Where(*target) : std::nullopt;
      if (w && count++ == 0) first = w->empty() ? "the data directory" : *w;
    }
    closedir(fds);
  }
  if (count > 0) how.push_back("holds open " + first + (count > 1 ? fmt::format(" and {} more", count - 1) : ""));
  return how;
}

}  // namespace

bool LiveCheck::segment_in_use() const {
  return shared_memory && shared_memory->attached > 0 && shared_memory->this_directory != false;
}

bool LiveCheck::in_use() const {
  return postmaster_alive || writer_lock_held || segment_in_use() || !users.empty();
}

std::vector<std::string> LiveCheck::Describe() const {
  std::vector<std::string> out;
  const long postmaster = postmaster_alive && pid_file && pid_file->pid ? *pid_file->pid : 0;
  if (writer_lock() && writer_lock_held) {
    out.push_back(fmt::format("pgrescue is writing to the directory: PID {} ({}) holds postmaster.pid, which names "
                              "its lock keeper, PID {}",
                              *pid_file->writer_pid, pid_file->writer_command, pid_file->pid.value_or(0)));
  } else if (postmaster != 0) {
    out.push_back(fmt::format("a server is running: postmaster.pid names PID {}, which is alive", postmaster));
  }
  if (segment_in_use()) {
    out.push_back(fmt::format("shared memory segment ID {} (key {}) still has {} process(es) attached",
                              shared_memory->id, shared_memory->key, shared_memory->attached));
  }
  for (const auto& u : users) {
    if (u.pid == postmaster || (writer_lock() && u.pid == *pid_file->writer_pid)) continue;
    out.push_back(fmt::format("PID {} ({}): {}", u.pid, u.command, u.how));
  }
  return out;
}

std::string LiveCheck::PostgresWouldSay() const {
  if (pid_file && pid_file_text.empty()) return "lock file \"postmaster.pid\" is empty";
  if (pid_file && !pid_file->pid) {
    return fmt::format("bogus data in lock file \"postmaster.pid\": \"{}\"", pid_file_text);
  }
  if (pid_file && server_would_see_pid) return "lock file \"postmaster.pid\" already exists";
  if (segment_in_use()) {
    return fmt::format("pre-existing shared memory block (key {}, ID {}) is still in use", shared_memory->key,
                       shared_memory->id);
  }
  return {};
}

static LiveCheck CheckOnce(const std::string& data_dir) try {
  LiveCheck c;
  const auto root = RealPath(data_dir);
  struct stat dir {};
  if (!root || stat(root->c_str(), &dir) != 0) {
    c.limits.push_back(fmt::format("{}: {}", data_dir, strerror(errno)));
    return c;
  }
  if (std::string text; ReadSmall(*root + "/postmaster.pid", 65536, &text)) {
    c.pid_file = ParsePostmasterPid(text);
    c.pid_file_text = text.substr(0, kServerReadLimit);
  } else if (errno != ENOENT) {
    c.limits.push_back(fmt::format("postmaster.pid: {}", strerror(errno)));
  }
  // Our own lock is not a user; another pgrescue's is held while its flock
  // is, and a stale one's PIDs name nobody (the kernel may have reused them).
  long own_keeper = 0;
  if (c.pid_file && c.pid_file->writer_pid && OpenHereAlready(*root + "/postmaster.pid")) {
    own_keeper = c.pid_file->pid.value_or(0);
    c.pid_file.reset();
    c.pid_file_text.clear();
  } else if (c.pid_file && c.pid_file->writer_pid) {
    c.writer_lock_held = WriterLockHeld(*root + "/postmaster.pid");
  }
  const bool stale_lock = c.stale_writer_lock();
  const long named = c.pid_file && !stale_lock ? c.pid_file->pid.value_or(0) : 0;
  if (named > 0 && (kill(static_cast<pid_t>(named), 0) == 0 || errno == EPERM)) {
    std::string stat_line;
    ReadSmall(fmt::format("/proc/{}/stat", named), 512, &stat_line);
    const auto paren = stat_line.rfind(") ");
    c.postmaster_zombie = paren != std::string::npos && stat_line.compare(paren, 3, ") Z") == 0;
    c.postmaster_alive = !c.postmaster_zombie;
    // The owner's kill() fails with EPERM for another user's process, and the server then ignores the PID.
    struct stat proc {};
    c.server_would_see_pid = stat(fmt::format("/proc/{}", named).c_str(), &proc) != 0 || proc.st_uid == dir.st_uid;
  }

  if (c.pid_file && c.pid_file->shm_id) {
    std::string denied;
    c.shared_memory = InspectSegment(*c.pid_file->shm_key, *c.pid_file->shm_id, dir, &denied);
    if (!denied.empty()) c.limits.push_back(denied);
  }
  if (!c.shared_memory || !c.shared_memory->exists || c.shared_memory->this_directory == false) {
    if (auto found = FindSegmentOf(dir, &c.limits)) c.shared_memory = found;
  }
  const bool ours = c.shared_memory && c.shared_memory->attached > 0 && c.shared_memory->this_directory != false;
  const int64_t shm_id = ours ? c.shared_memory->id : -1;

  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    c.limits.push_back(fmt::format("/proc: {}: processes were not checked", strerror(errno)));
    return c;
  }
  const Roots roots = FindRoots(*root);
  const auto my_ipc = Link("/proc/self/ns/ipc");
  int hidden_count = 0;
  while (const dirent* e = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0' || pid == static_cast<long>(getpid()) || pid == own_keeper) continue;
    bool hidden = false;
    auto how = Uses(pid, roots, dir, shm_id, &hidden);
    hidden_count += hidden;
    if (pid == named && c.postmaster_alive) how.insert(how.begin(), "postmaster.pid names it");
    if (how.empty()) continue;
    if (const auto ipc = Link(fmt::format("/proc/{}/ns/ipc", pid)); my_ipc && ipc && *ipc != *my_ipc) {
      c.limits.push_back(fmt::format("process {} is in another IPC namespace: its shared memory is not visible", pid));
    }
    std::string joined;
    for (const auto& h : how) joined += (joined.empty() ? "" : "; ") + h;
    c.users.push_back(DirectoryUser{pid, ProcessCommand(pid), joined});
  }
  closedir(proc);
  if (hidden_count > 0) {
    c.limits.push_back(geteuid() != 0 ? fmt::format("not root: {} processes of other users are not visible in /proc",
                                                    hidden_count)
                                      : fmt::format("{} processes could not be inspected in /proc", hidden_count));
  }
  std::sort(c.users.begin(), c.users.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });
  return c;
} catch (const std::exception& e) {
  LiveCheck c;
  c.limits.push_back(fmt::format("the check stopped: {}", e.what()));
  return c;
}

// A server removes postmaster.pid a moment before its last process exits,
// and `pg_ctl stop` returns as soon as the file is gone: a check run right
// after it would find the exiting postmaster by its working directory.
// Without a live postmaster, what still uses the directory is asked about
// again for up to 2 s; whatever is still there then is reported. A running
// postmaster is reported at once.
LiveCheck CheckDirectoryUse(const std::string& data_dir) {
  LiveCheck c = CheckOnce(data_dir);
  for (int i = 0; i < 20 && c.in_use() && !c.postmaster_alive; ++i) {
    usleep(100000);
    c = CheckOnce(data_dir);
  }
  return c;
}

}  // namespace pgrescue
