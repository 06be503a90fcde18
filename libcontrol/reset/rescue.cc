#include "libcontrol/reset/rescue.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "libcontrol/base/file_bytes.h"
#include "libcontrol/reset/rescue_io.h"

namespace pgrescue {
namespace fs = std::filesystem;
using rescue_io::CloneInto;
using rescue_io::CreateOwned;
using rescue_io::FsyncDir;
using rescue_io::IoError;
using rescue_io::Parent;

namespace {

constexpr const char* kFormat = "pgrescue-rescue-2";
constexpr const char* kTmpSuffix = ".pgrescue-tmp";

std::string UtcStamp() {
  const time_t now = time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// Copy for moves across filesystems: fsynced and verified before the
// original may go. The target is in the rescue folder, which no one else
// writes, so a leftover of a crashed copy is simply overwritten.
Status CopyDurably(const std::string& from, const std::string& to, const RescuedFile& f) {
  auto out = CreateOwned(to, FileOwner{f.uid, f.gid, f.mode & 07777}, false);
  if (!out) return out.error();
  if (auto r = CloneInto(from, out->get(), to); !r) return r.error();
  if (auto r = out->Close(to); !r) return r;
  auto copied = Sha256OfFile(to);
  if (!copied) return copied.error();
  if (*copied != f.sha256) return MakeError(ErrorCode::kIo, "the copy does not match the original", to);
  return Status::Ok();
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

nlohmann::json ToJson(const RescuedFile& f, bool created) {
  nlohmann::json j = {{"path", f.path}, {"size", f.size}, {"mode", fmt::format("{:04o}", f.mode)},
                      {"uid", f.uid},   {"gid", f.gid},   {"sha256", f.sha256}};
  if (created) {
    j["inode"] = f.inode;
    if (f.birth_ns != 0) j["birth_ns"] = f.birth_ns;
    if (f.pending) j["pending"] = true;
  }
  return j;
}

RescuedFile FromJson(const nlohmann::json& j) {
  RescuedFile f;
  f.path = j.at("path").get<std::string>();
  f.size = j.value("size", uint64_t{0});
  f.mode = static_cast<uint32_t>(std::stoul(j.value("mode", std::string("0600")), nullptr, 8));
  f.uid = j.value("uid", uint32_t{0});
  f.gid = j.value("gid", uint32_t{0});
  f.sha256 = j.value("sha256", std::string());
  f.inode = j.value("inode", uint64_t{0});
  f.birth_ns = j.value("birth_ns", uint64_t{0});
  f.pending = j.value("pending", false);
  return f;
}

// Creates `tmp`, which must not exist, with `owner` before the first byte,
// writes `bytes` and `zero_tail` zeros, fsyncs and closes it; removes it on
// any failure. Returns its inode and birth time, which name the file after a
// rename.
struct FileIdentity {
  uint64_t inode = 0;
  uint64_t birth_ns = 0;
};
Result<FileIdentity> WriteTemp(const std::string& tmp, std::span<const uint8_t> bytes, uint64_t zero_tail,
                        const FileOwner& owner) {
  auto fd = CreateOwned(tmp, owner, true);
  if (!fd) {
    unlink(tmp.c_str());
    return fd.error();
  }
  auto fail = [&](Error e) {
    (void)fd->Close(tmp);  // the first error is the one to report
    unlink(tmp.c_str());
    return e;
  };
  if (auto r = rescue_io::WriteAll(fd->get(), bytes.data(), bytes.size(), tmp); !r) return fail(r.error());
  if (auto r = rescue_io::WriteZeros(fd->get(), zero_tail, tmp); !r) return fail(r.error());
  if (fsync(fd->get()) != 0) return fail(IoError("could not fsync", tmp));
  struct stat st {};
  if (fstat(fd->get(), &st) != 0) return fail(IoError("could not stat", tmp));
  const uint64_t birth = rescue_io::BirthTimeNs(fd->get(), "", AT_EMPTY_PATH).value_or(0);
  if (auto r = fd->Close(tmp); !r) return fail(r.error());
  return FileIdentity{st.st_ino, birth};
}

}  // namespace

std::string Sha256Hex(std::span<const uint8_t> data) {
  rescue_io::Sha256 h;
  h.Update(data.data(), data.size());
  return h.Hex();
}

Result<std::string> Sha256OfFile(const std::string& path) {
  rescue_io::Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return IoError("could not open", path);
  rescue_io::Sha256 h;
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    const ssize_t n = read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("could not read", path);
    }
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
  }
  return h.Hex();
}

Result<FileOwner> DataFileOwner(const std::string& data_dir) {
  struct stat st {};
  const std::string path = data_dir + "/PG_VERSION";
  if (stat(path.c_str(), &st) != 0) return IoError("could not stat", path);
  return FileOwner{st.st_uid, st.st_gid, static_cast<mode_t>(st.st_mode & 0777)};
}

Status WriteFileAtomically(const std::string& path, std::span<const uint8_t> bytes, uint64_t zero_tail,
                                 const FileOwner& owner) {
  const std::string tmp = path + kTmpSuffix;
  // Not ours to remove when it already exists: another writer's, or a
  // leftover for a person to look at.
  if (Exists(tmp)) return MakeError(ErrorCode::kIo, "a temporary file is in the way; look at it and remove it", tmp);
  if (auto written = WriteTemp(tmp, bytes, zero_tail, owner); !written) return written.error();
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = IoError("could not rename into place", path);
    unlink(tmp.c_str());
    return e;
  }
  return FsyncDir(Parent(path));
}

Result<Manifest> ReadManifest(const std::string& rescue_dir) {
  // A manifest lists every WAL file kept: a few MB for 100,000 of them.
  const auto text = ReadSmallText(rescue_dir + "/manifest.json", 1ull << 30);
  if (!text) {
    if (Exists(rescue_dir + "/manifest.undone.json")) {
      return MakeError(ErrorCode::kNotFound, "already undone: manifest.undone.json, no manifest.json", rescue_dir);
    }
    return MakeError(ErrorCode::kNotFound, "no manifest.json: not a pgrescue rescue folder", rescue_dir);
  }
  try {
    const auto j = nlohmann::json::parse(*text);
    const std::string format = j.value("format", std::string());
    if (format != kFormat && format != "pgrescue-rescue-1") {
      return MakeError(ErrorCode::kInvalidArgument, "manifest.json has an unknown format \"" + format + "\"",
                       rescue_dir);
    }
    Manifest m;
    m.data_dir = j.at("data_dir").get<std::string>();
    m.purpose = j.value("purpose", std::string());
    m.created_at = j.value("created_at", std::string());
    for (const auto& [key, list] : {std::pair{"kept", &m.kept}, {"created", &m.created}, {"copied", &m.copied}}) {
      if (j.contains(key)) {
        for (const auto& f : j.at(key)) list->push_back(FromJson(f));
      }
    }
    if (j.contains("temps")) m.temps = j.at("temps").get<std::vector<std::string>>();
    return m;
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kIo, std::string("manifest.json cannot be read: ") + e.what(), rescue_dir);
  }
}

Status WriteManifest(const std::string& rescue_dir, const Manifest& m) {
  nlohmann::json j;
  j["format"] = kFormat;
  j["data_dir"] = m.data_dir;
  j["purpose"] = m.purpose;
  j["created_at"] = m.created_at;
  for (const auto& [key, list, created] : {std::tuple{"kept", &m.kept, false}, {"created", &m.created, true},
                                           {"copied", &m.copied, false}}) {
    j[key] = nlohmann::json::array();
    for (const auto& f : *list) j[key].push_back(ToJson(f, created));
  }
  j["temps"] = m.temps;
  const std::string text = j.dump(2) + "\n";
  const std::string path = rescue_dir + "/manifest.json";
  // A save killed half-way leaves its temporary file; the folder is ours, so
  // the next save may take the name again.
  unlink((path + kTmpSuffix).c_str());
  return WriteFileAtomically(path, {reinterpret_cast<const uint8_t*>(text.data()), text.size()}, 0,
                             FileOwner{geteuid(), getegid(), 0600});
}

std::string DefaultRescueDir(const std::string& data_dir) {
  std::string base = fs::path(data_dir).lexically_normal().string();
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  // Unique even for two resets in one second; later ones sort after.
  const std::string stamp = base + ".pgrescue/" + UtcStamp();
  std::string dir = stamp;
  std::error_code ec;
  for (int n = 2; fs::exists(dir, ec); ++n) dir = fmt::format("{}-{:03}", stamp, n);
  return dir;
}

Result<std::string> NewestRescueDir(const std::string& data_dir) {
  std::string base = fs::path(data_dir).lexically_normal().string();
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  base += ".pgrescue";
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    if (fs::exists(it->path() / "manifest.json")) found.push_back(it->path().string());
  }
  if (found.empty()) {
    return MakeError(ErrorCode::kNotFound,
                     "no rescue folder with a manifest.json found (a reset stopped before writing one changed "
                     "nothing); name one after --undo",
                     base);
  }
  return *std::max_element(found.begin(), found.end());
}

Result<RescueFolder> RescueFolder::Create(const std::string& data_dir, const std::string& dir,
                                          const std::string& purpose) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    return MakeError(ErrorCode::kIo, "the rescue folder already exists; choose another with --rescue-dir", dir);
  }
  const fs::path absolute = fs::absolute(dir).lexically_normal();
  fs::create_directories(absolute, ec);
  if (ec) return MakeError(ErrorCode::kIo, "could not create the rescue folder: " + ec.message(), dir);
  // Nothing is in the data directory's place yet: a folder that cannot be
  // made durable goes again, so that a failure here leaves nothing behind.
  const auto abandon = [&absolute](Error e) -> Error {
    std::error_code ignored;
    fs::remove_all(absolute, ignored);
    return e;
  };
  if (chmod(absolute.c_str(), 0700) != 0) return abandon(IoError("could not chmod", dir));
  // The folder must outlive a power loss before the manifest in it matters.
  if (auto r = FsyncDir(absolute.parent_path().string()); !r) return abandon(r.error());
  Manifest m;
  m.data_dir = fs::absolute(data_dir).lexically_normal().string();
  while (m.data_dir.size() > 1 && m.data_dir.back() == '/') m.data_dir.pop_back();
  m.purpose = purpose;
  m.created_at = UtcStamp();
  RescueFolder folder(absolute.string(), std::move(m));
  if (auto r = folder.SaveManifest(); !r) return abandon(r.error());
  return folder;
}

Status RescueFolder::SaveManifest() const { return WriteManifest(dir_, manifest_); }

Result<RescuedFile> RescueFolder::Describe(const std::string& relative) const {
  const std::string path = manifest_.data_dir + "/" + relative;
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return IoError("could not stat", path);
  if (!S_ISREG(st.st_mode)) return MakeError(ErrorCode::kInvalidArgument, "not a regular file", path);
  auto sha = Sha256OfFile(path);
  if (!sha) return sha.error();
  return RescuedFile{relative, static_cast<uint64_t>(st.st_size), static_cast<uint32_t>(st.st_mode & 07777),
                     st.st_uid, st.st_gid, *sha};
}

Status RescueFolder::Keep(const std::string& relative) {
  auto f = Describe(relative);
  if (!f) return f.error();
  // Recorded first: a crash after the move still finds the file in the manifest.
  manifest_.kept.push_back(*f);
  if (auto r = SaveManifest(); !r) return r;
  const std::string from = manifest_.data_dir + "/" + relative;
  const std::string to = dir_ + "/files/" + relative;
  std::error_code ec;
  fs::create_directories(Parent(to), ec);
  if (ec) return MakeError(ErrorCode::kIo, "could not create a folder: " + ec.message(), Parent(to));
  if (rename(from.c_str(), to.c_str()) != 0) {
    if (errno != EXDEV) return IoError("could not move to " + to, from);
    if (auto r = CopyDurably(from, to, *f); !r) return r;
    if (auto r = FsyncDir(Parent(to)); !r) return r;
    if (unlink(from.c_str()) != 0) return IoError("could not remove after copying", from);
  } else if (auto r = FsyncDir(Parent(to)); !r) {
    return r;
  }
  return FsyncDir(Parent(from));
}

Result<CopyStats> RescueFolder::KeepCopy(const std::string& relative) {
  auto f = Describe(relative);
  if (!f) return f.error();
  const std::string from = manifest_.data_dir + "/" + relative;
  const std::string to = dir_ + "/copies/" + relative;
  std::error_code ec;
  fs::create_directories(Parent(to), ec);
  if (ec) return MakeError(ErrorCode::kIo, "could not create a folder: " + ec.message(), Parent(to));
  // Owner and mode of the original, so undo can rename the copy into place.
  auto out = CreateOwned(to, FileOwner{f->uid, f->gid, f->mode}, false);
  if (!out) return out.error();
  auto stats = CloneInto(from, out->get(), to);
  if (!stats) return stats.error();
  if (auto r = out->Close(to); !r) return r.error();
  // A reflink shares the very blocks just hashed; only copied bytes can differ.
  if (!stats->reflinked) {
    auto sha = Sha256OfFile(to);
    if (!sha) return sha.error();
    if (*sha != f->sha256) return MakeError(ErrorCode::kIo, "the copy does not match the original", to);
  }
  if (auto r = FsyncDir(Parent(to)); !r) return r.error();
  // Recorded after the copy: until then the original is untouched in place.
  manifest_.copied.push_back(*f);
  if (auto r = SaveManifest(); !r) return r.error();
  return *stats;
}

Status RescueFolder::WriteNew(const std::string& relative, std::span<const uint8_t> bytes, uint64_t zero_tail,
                                    const FileOwner& owner) {
  const std::string path = manifest_.data_dir + "/" + relative;
  const std::string tmp_relative = relative + kTmpSuffix;
  const std::string tmp = manifest_.data_dir + "/" + tmp_relative;
  // Undo removes what the manifest announces, so nothing may be announced
  // that exists already: it would be the cluster's, not ours.
  if (Exists(path)) {
    return MakeError(ErrorCode::kInvalidArgument, "exists already; a reset keeps a file before replacing it", path);
  }
  if (Exists(tmp)) {
    return MakeError(ErrorCode::kIo, "a temporary file of an earlier run is in the way; look at it and remove it",
                     tmp);
  }
  rescue_io::Sha256 h;
  h.Update(bytes.data(), bytes.size());
  h.UpdateZeros(zero_tail);
  RescuedFile f{relative, bytes.size() + zero_tail, static_cast<uint32_t>(owner.mode & 07777), owner.uid,
                owner.gid, h.Hex()};
  f.pending = true;
  manifest_.temps.push_back(tmp_relative);
  manifest_.created.push_back(f);
  if (auto r = SaveManifest(); !r) return r;

  // The temporary name was free and is announced: ours to remove on failure
  // (undo would remove it too).
  auto identity = WriteTemp(tmp, bytes, zero_tail, owner);
  if (!identity) return identity.error();
  // The inode is on record before the name appears, so undo knows the file
  // even after a server rewrote it.
  manifest_.created.back().inode = identity->inode;
  manifest_.created.back().birth_ns = identity->birth_ns;
  manifest_.created.back().pending = false;
  if (auto r = SaveManifest(); !r) return r;
  if (rename(tmp.c_str(), path.c_str()) != 0) return IoError("could not rename into place", path);
  return FsyncDir(Parent(path));
}

}  // namespace pgrescue
