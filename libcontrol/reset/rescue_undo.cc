// UndoRescue: look at everything, then change what can be put back. Each
// step is a single rename or unlink whose effect the next run recognises
// (a file in place with the manifest's SHA-256, a created file gone), so a
// crash between any two steps leaves a state this same code finishes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "libcontrol/base/shell_words.h"
#include "libcontrol/reset/rescue.h"
#include "libcontrol/reset/rescue_io.h"
#include "libcontrol/reset/writer_lock.h"

namespace pgrescue {
namespace {

using rescue_io::FsyncDir;
using rescue_io::Parent;

// What one data-directory path needs. `original` is the file to put back
// (from kept or copied); `created` the file the reset wrote there.
struct PathWork {
  std::string relative;
  const RescuedFile* original = nullptr;
  bool copied = false;  // the original was copied and left in place, not moved
  std::string source;   // files/<path> or copies/<path>
  const RescuedFile* created = nullptr;
  // Decided by the check:
  bool in_place = false;       // the original is there with its SHA-256
  bool remove_current = false;  // the file there is the reset's
  bool restore = false;        // move the source back
  std::string problem;         // why the path is left as it is
  std::string note;            // how it came to differ, for the report
};

struct Current {
  bool exists = false;
  struct stat st {};
};

Current Look(const std::string& path) {
  Current c;
  c.exists = lstat(path.c_str(), &c.st) == 0;
  return c;
}

// A directory as PostgreSQL uses it: pg_wal may be a link to another
// filesystem (initdb -X), and the file goes where the link points.
Current LookThroughLink(const std::string& path) {
  Current c;
  c.exists = stat(path.c_str(), &c.st) == 0;
  return c;
}

// Whether `path` (which exists) holds `f`'s bytes; reads only when sizes agree.
bool SameBytes(const std::string& path, const Current& c, const RescuedFile& f) {
  if (!S_ISREG(c.st.st_mode) || static_cast<uint64_t>(c.st.st_size) != f.size) return false;
  auto sha = Sha256OfFile(path);
  return sha && *sha == f.sha256;
}

// A file the reset created stays recognisable after a server rewrote it in
// place (same inode), and after a copy of the whole directory (same bytes).
bool IsTheResetsFile(const std::string& path, const Current& c, const RescuedFile& created) {
  if (created.pending) return false;  // the rename into place comes after the record
  if (created.inode != 0 && static_cast<uint64_t>(c.st.st_ino) == created.inode && S_ISREG(c.st.st_mode) &&
      (created.birth_ns == 0 || rescue_io::BirthTimeNs(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW) == created.birth_ns)) {
    return true;
  }
  return SameBytes(path, c, created);
}

// One directory by two names (relative, through links).
bool SameDir(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

Error StaleElsewhere(const std::string& theirs, const std::string& data_dir, const std::string& rescue_dir) {
  return MakeError(ErrorCode::kInvalidArgument,
                   fmt::format("postmaster.pid is the lock of a run that stopped part-way while keeping files in {}, "
                               "not in this folder: undo that one first (pgrescue-reset --undo {} -D {})",
                               theirs, ShellQuote(theirs), ShellQuote(data_dir)),
                   rescue_dir);
}

bool SafeRelative(const std::string& relative) {
  if (relative.empty() || relative.front() == '/') return false;
  size_t start = 0;
  for (;;) {
    const size_t slash = relative.find('/', start);
    const std::string part = relative.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

void Check(const std::string& data_dir, const std::vector<std::string>& temps, PathWork& w) {
  const std::string path = data_dir + "/" + w.relative;
  const Current now = Look(path);
  if (w.original == nullptr) {  // a new file only
    if (!now.exists) return;
    if (IsTheResetsFile(path, now, *w.created)) {
      w.remove_current = true;
      if (!SameBytes(path, now, *w.created)) w.note = " (changed since the reset: a server ran)";
      return;
    }
    w.problem = "a file is there that the reset did not write (another inode and other bytes); left in place";
    return;
  }
  if (now.exists && SameBytes(path, now, *w.original)) {
    w.in_place = true;
    return;
  }
  if (now.exists) {
    if (w.created != nullptr && IsTheResetsFile(path, now, *w.created)) {
      w.remove_current = true;
    } else if (w.created == nullptr && w.copied && S_ISREG(now.st.st_mode)) {
      w.note = " (changed since the reset: a server ran)";  // the copy goes over it
    } else {
      w.problem = "a file is in the way that is not the one the reset created; move it aside and run --undo again";
      return;
    }
  } else if (w.created == nullptr && w.copied) {
    w.note = " (removed or recycled since the reset: a server ran)";
  }
  const Current source = Look(w.source);
  if (!source.exists) {
    w.problem = "its kept copy " + w.source + " is missing";
  } else if (!SameBytes(w.source, source, *w.original)) {
    w.problem = "its kept copy " + w.source + " no longer matches the manifest's SHA-256";
  } else if (const Current dir = LookThroughLink(Parent(path)); !dir.exists || !S_ISDIR(dir.st.st_mode)) {
    w.problem = "its directory " + Parent(path) + " is missing";
  } else if (dir.st.st_dev != source.st.st_dev && Look(path + ".pgrescue-tmp").exists &&
             std::find(temps.begin(), temps.end(), w.relative + ".pgrescue-tmp") == temps.end()) {
    w.problem = "copying it back needs the name " + w.relative + ".pgrescue-tmp, which a file not of pgrescue's has";
  }
  w.restore = w.problem.empty();
  if (!w.restore) w.remove_current = false;  // keep the reset's file rather than leave none
}

// Owner and mode as recorded; only what differs is changed.
Status SetAttributes(const std::string& path, const RescuedFile& f) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return rescue_io::IoError("could not stat", path);
  if ((st.st_uid != f.uid || st.st_gid != f.gid) && lchown(path.c_str(), f.uid, f.gid) != 0 && geteuid() == 0) {
    return rescue_io::IoError("could not restore the owner of", path);
  }
  if ((st.st_mode & 07777) != f.mode && chmod(path.c_str(), f.mode) != 0) {
    return rescue_io::IoError("could not restore the mode of", path);
  }
  return Status::Ok();
}

// Across filesystems: a temporary file next to the target, announced in the
// manifest before it exists, then renamed over the target.
Status CopyBack(const std::string& rescue_dir, Manifest& m, const PathWork& w) {
  const std::string tmp_relative = w.relative + ".pgrescue-tmp";
  const std::string tmp = m.data_dir + "/" + tmp_relative;
  if (std::find(m.temps.begin(), m.temps.end(), tmp_relative) == m.temps.end()) {
    if (Look(tmp).exists) return MakeError(ErrorCode::kIo, "a file not of pgrescue's has the temporary name", tmp);
    m.temps.push_back(tmp_relative);
    if (auto r = WriteManifest(rescue_dir, m); !r) return r;
  } else if (unlink(tmp.c_str()) != 0 && errno != ENOENT) {
    return rescue_io::IoError("could not remove", tmp);
  }
  const RescuedFile& f = *w.original;
  auto fd = rescue_io::CreateOwned(tmp, FileOwner{f.uid, f.gid, f.mode}, true);
  if (!fd) return fd.error();
  if (auto r = rescue_io::CloneInto(w.source, fd->get(), tmp); !r) return r.error();
  if (auto r = fd->Close(tmp); !r) return r;
  auto sha = Sha256OfFile(tmp);
  if (!sha) return sha.error();
  if (*sha != f.sha256) return MakeError(ErrorCode::kIo, "the copy does not match the manifest's SHA-256", tmp);
  if (rename(tmp.c_str(), (m.data_dir + "/" + w.relative).c_str()) != 0) {
    return rescue_io::IoError("could not rename into place", tmp);
  }
  if (auto r = FsyncDir(Parent(tmp)); !r) return r;
  // The rescue folder's copy has served; a rerun finds the file in place.
  unlink(w.source.c_str());
  return Status::Ok();
}

Status Apply(const std::string& rescue_dir, Manifest& m, const PathWork& w, UndoReport& report) {
  const std::string path = m.data_dir + "/" + w.relative;
  if (w.remove_current) {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return rescue_io::IoError("could not remove", path);
    if (auto r = FsyncDir(Parent(path)); !r) return r;
    if (w.original == nullptr) report.done.push_back("removed " + w.relative + ", written by the reset" + w.note);
  }
  if (w.in_place) {
    const Current now = Look(path);
    if ((now.st.st_mode & 07777) != w.original->mode || now.st.st_uid != w.original->uid ||
        now.st.st_gid != w.original->gid) {
      if (auto r = SetAttributes(path, *w.original); !r) return r;
      report.done.push_back("restored the owner and mode of " + w.relative);
    }
    return Status::Ok();
  }
  if (!w.restore) return Status::Ok();
  if (auto r = SetAttributes(w.source, *w.original); !r) return r;
  if (rename(w.source.c_str(), path.c_str()) == 0) {
    if (auto r = FsyncDir(Parent(path)); !r) return r;
    if (auto r = FsyncDir(Parent(w.source)); !r) return r;
  } else if (errno != EXDEV) {
    return rescue_io::IoError("could not move back from " + w.source, path);
  } else if (auto r = CopyBack(rescue_dir, m, w); !r) {
    return r;
  }
  report.done.push_back(fmt::format("restored {}{}{}", w.relative, w.remove_current ? ", in place of the reset's" : "",
                                    w.note));
  return Status::Ok();
}

}  // namespace

Result<UndoReport> UndoRescue(const std::string& rescue_dir) {
  auto manifest = ReadManifest(rescue_dir);
  if (!manifest) return manifest.error();
  Manifest& m = *manifest;
  struct stat st {};
  if (m.data_dir.empty() || stat(m.data_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return MakeError(ErrorCode::kNotFound, "the data directory the manifest names is not there", m.data_dir);
  }
  // A stopped run's lock names its folder: only that one may take the lock over.
  if (const auto theirs = StaleLockRescueDir(m.data_dir); !theirs.empty() && !SameDir(theirs, rescue_dir)) {
    return StaleElsewhere(theirs, m.data_dir, rescue_dir);
  }
  // The killed run's own lock is taken over; a server's stops us.
  auto lock = WriterLock::Take(m.data_dir, rescue_dir, true);
  if (!lock) return lock.error();
  // One entry per path, in manifest order; kept and copied files are the
  // originals, created ones what the reset wrote.
  std::vector<PathWork> work;
  std::map<std::string, size_t> index;
  auto at = [&](const std::string& relative) -> PathWork& {
    auto [it, fresh] = index.try_emplace(relative, work.size());
    if (fresh) {
      work.emplace_back();
      work.back().relative = relative;
    }
    return work[it->second];
  };
  for (const auto& [list, folder] : {std::pair{&m.kept, "/files/"}, {&m.copied, "/copies/"}}) {
    for (const auto& f : *list) {
      PathWork& w = at(f.path);
      w.original = &f;
      w.copied = list == &m.copied;
      w.source = rescue_dir + folder + f.path;
    }
  }
  for (const auto& f : m.created) at(f.path).created = &f;
  for (const auto& relative : m.temps) {
    if (!SafeRelative(relative)) return MakeError(ErrorCode::kInvalidArgument, "unsafe path in manifest", relative);
  }
  for (const auto& w : work) {
    if (!SafeRelative(w.relative)) return MakeError(ErrorCode::kInvalidArgument, "unsafe path in manifest", w.relative);
  }

  // Look at everything before changing anything.
  for (auto& w : work) Check(m.data_dir, m.temps, w);

  UndoReport report;
  if (!lock->taken_over().empty()) report.done.push_back(lock->taken_over());
  // Temporary names were free when announced, so whatever has one is ours.
  for (const auto& relative : m.temps) {
    const std::string path = m.data_dir + "/" + relative;
    if (unlink(path.c_str()) == 0) {
      if (auto r = FsyncDir(Parent(path)); !r) report.not_restored.push_back(relative + ": " + r.error().ToString());
      report.done.push_back("removed " + relative + ", a temporary file of an unfinished write");
    } else if (errno != ENOENT) {
      report.not_restored.push_back(relative + ": " + rescue_io::IoError("could not remove", path).ToString());
    }
  }
  // Copies of files that are in place unchanged are the usual case: one line.
  size_t unchanged = 0;
  for (const auto& w : work) {
    if (!w.problem.empty()) {
      report.not_restored.push_back(w.relative + ": " + w.problem);
      continue;
    }
    const bool was_in_place = w.in_place;
    if (auto r = Apply(rescue_dir, m, w, report); !r) {
      report.not_restored.push_back(w.relative + ": " + r.error().ToString());
      continue;
    }
    if (was_in_place && w.created == nullptr && w.copied) {
      ++unchanged;
    } else if (was_in_place) {
      report.done.push_back(w.relative + " already in place");
    } else if (w.original == nullptr && !w.remove_current) {
      report.done.push_back(w.relative + ", written by the reset, already removed");
    }
  }
  if (unchanged > 0) report.done.push_back(fmt::format("{} copied file(s) unchanged since the reset", unchanged));
  // The lock goes before the manifest: a lock left behind keeps the
  // manifest, and with it the --undo that removes the lock.
  if (auto r = report.complete() ? lock->Release() : Status::Ok(); !r) {
    report.not_restored.push_back("postmaster.pid: " + r.error().ToString());
  }
  if (!report.complete()) {
    lock->KeepForUndo();
    return report;
  }
  const std::string from = rescue_dir + "/manifest.json";
  if (rename(from.c_str(), (rescue_dir + "/manifest.undone.json").c_str()) != 0) {
    report.not_restored.push_back(rescue_io::IoError("could not rename to manifest.undone.json", from).ToString());
  } else if (auto r = FsyncDir(rescue_dir); !r) {
    report.not_restored.push_back(r.error().ToString());
  }
  return report;
}

Result<std::string> ClearStaleWriterLock(const std::string& data_dir) {
  // Taking the lock also removes the temporary file of one never put in place.
  struct stat st {};
  if (lstat((data_dir + "/postmaster.pid").c_str(), &st) != 0 &&
      lstat((data_dir + "/postmaster.pid.pgrescue-tmp").c_str(), &st) != 0) {
    return std::string();
  }
  // Only a run that never wrote its manifest changed nothing.
  const std::string theirs = StaleLockRescueDir(data_dir);
  if (!theirs.empty() && lstat((theirs + "/manifest.json").c_str(), &st) == 0) {
    return StaleElsewhere(theirs, data_dir, "");
  }
  auto lock = WriterLock::Take(data_dir, "", true);
  if (!lock) return lock.error();
  std::string said = lock->taken_over();
  if (auto r = lock->Release(); !r) return r.error();
  return said.empty() ? said : said + "; it had changed nothing yet, and the lock is removed";
}

}  // namespace pgrescue
