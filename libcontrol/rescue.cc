#include "libcontrol/rescue.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

namespace pgrescue {
namespace fs = std::filesystem;
namespace {

Error IoError(const std::string& what, const std::string& path) {
  return MakeError(ErrorCode::kIo, fmt::format("{}: {}", what, std::strerror(errno)), path);
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size) { EVP_DigestUpdate(ctx_, data, size); }
  std::string Hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_, digest, &length);
    std::string out;
    for (unsigned int i = 0; i < length; ++i) out += fmt::format("{:02x}", digest[i]);
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

Result<bool> FsyncPath(const std::string& path, bool directory) {
  const int fd = open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return IoError("could not open to fsync", path);
  const int rc = fsync(fd);
  close(fd);
  if (rc != 0) return IoError("could not fsync", path);
  return true;
}

std::string Parent(const std::string& path) { return fs::path(path).parent_path().string(); }

std::string UtcStamp() {
  const time_t now = time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Result<bool> WriteAll(int fd, const uint8_t* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("could not write", path);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Copy for moves across filesystems; the copy is fsynced and verified.
Result<bool> CopyDurably(const std::string& from, const std::string& to, const std::string& sha256) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::none, ec);
  if (ec) return MakeError(ErrorCode::kIo, "could not copy: " + ec.message(), from);
  if (auto r = FsyncPath(to, false); !r) return r;
  auto copied = Sha256OfFile(to);
  if (!copied) return copied.error();
  if (*copied != sha256) return MakeError(ErrorCode::kIo, "the copy does not match the original", to);
  return true;
}

Result<bool> MoveDurably(const std::string& from, const std::string& to, const std::string& sha256) {
  std::error_code ec;
  fs::create_directories(Parent(to), ec);
  if (rename(from.c_str(), to.c_str()) != 0) {
    if (errno != EXDEV) return IoError("could not move to " + to, from);
    if (auto r = CopyDurably(from, to, sha256); !r) return r;
    if (unlink(from.c_str()) != 0) return IoError("could not remove after copying", from);
  }
  if (auto r = FsyncPath(Parent(to), true); !r) return r;
  return FsyncPath(Parent(from), true);
}

nlohmann::json ToJson(const RescuedFile& f) {
  return {{"path", f.path}, {"size", f.size}, {"mode", fmt::format("{:04o}", f.mode)},
          {"uid", f.uid},   {"gid", f.gid},   {"sha256", f.sha256}};
}

}  // namespace

std::string Sha256Hex(std::span<const uint8_t> data) {
  Sha256 h;
  h.Update(data.data(), data.size());
  return h.Hex();
}

Result<std::string> Sha256OfFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return IoError("could not open", path);
  Sha256 h;
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    const ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return IoError("could not read", path);
    }
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
  }
  close(fd);
  return h.Hex();
}

Result<FileOwner> DataFileOwner(const std::string& data_dir) {
  struct stat st {};
  const std::string path = data_dir + "/PG_VERSION";
  if (stat(path.c_str(), &st) != 0) return IoError("could not stat", path);
  return FileOwner{st.st_uid, st.st_gid, static_cast<mode_t>(st.st_mode & 0777)};
}

Result<bool> WriteFileAtomically(const std::string& path, std::span<const uint8_t> bytes, uint64_t zero_tail,
                                 const FileOwner& owner) {
  const std::string tmp = path + ".pgrescue-tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, owner.mode);
  if (fd < 0) return IoError("could not create", tmp);
  auto fail = [&](Error e) {
    close(fd);
    unlink(tmp.c_str());
    return e;
  };
  if (auto r = WriteAll(fd, bytes.data(), bytes.size(), tmp); !r) return fail(r.error());
  const std::vector<uint8_t> zeros(1 << 20, 0);
  for (uint64_t left = zero_tail; left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, zeros.size()));
    if (auto r = WriteAll(fd, zeros.data(), n, tmp); !r) return fail(r.error());
    left -= n;
  }
  if (fchown(fd, owner.uid, owner.gid) != 0 && geteuid() == 0) return fail(IoError("could not chown", tmp));
  if (fchmod(fd, owner.mode) != 0) return fail(IoError("could not chmod", tmp));
  if (fsync(fd) != 0) return fail(IoError("could not fsync", tmp));
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return IoError("could not rename into place", path);
  }
  return FsyncPath(Parent(path), true);
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
    return MakeError(ErrorCode::kIo, "no rescue folder with a manifest.json found; name one after --undo", base);
  }
  return *std::max_element(found.begin(), found.end());
}

Result<RescueFolder> RescueFolder::Create(const std::string& data_dir, const std::string& dir,
                                          const std::string& purpose) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    return MakeError(ErrorCode::kIo, "the rescue folder already exists; choose another with --rescue-dir", dir);
  }
  fs::create_directories(dir, ec);
  if (ec) return MakeError(ErrorCode::kIo, "could not create the rescue folder: " + ec.message(), dir);
  chmod(dir.c_str(), 0700);
  RescueFolder folder(fs::absolute(data_dir).lexically_normal().string(), fs::absolute(dir).string(), purpose);
  folder.created_at_ = UtcStamp();
  if (auto r = folder.SaveManifest(); !r) return r.error();
  return folder;
}

Result<RescuedFile> RescueFolder::Describe(const std::string& relative) const {
  const std::string path = data_dir_ + "/" + relative;
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return IoError("could not stat", path);
  auto sha = Sha256OfFile(path);
  if (!sha) return sha.error();
  return RescuedFile{relative, static_cast<uint64_t>(st.st_size), static_cast<uint32_t>(st.st_mode & 07777),
                     st.st_uid, st.st_gid, *sha};
}

Result<bool> RescueFolder::Keep(const std::string& relative) {
  auto f = Describe(relative);
  if (!f) return f.error();
  // Record first: a crash after the move still finds the file in the manifest.
  kept_.push_back(*f);
  if (auto r = SaveManifest(); !r) return r;
  return MoveDurably(data_dir_ + "/" + relative, dir_ + "/files/" + relative, f->sha256);
}

Result<bool> RescueFolder::KeepCopy(const std::string& relative) {
  auto f = Describe(relative);
  if (!f) return f.error();
  std::error_code ec;
  const std::string to = dir_ + "/copies/" + relative;
  fs::create_directories(Parent(to), ec);
  if (auto r = CopyDurably(data_dir_ + "/" + relative, to, f->sha256); !r) return r;
  if (auto r = FsyncPath(Parent(to), true); !r) return r;
  copied_.push_back(*f);
  return SaveManifest();
}

Result<bool> RescueFolder::NoteCreated(const std::string& relative) {
  auto f = Describe(relative);
  if (!f) return f.error();
  created_.push_back(*f);
  return SaveManifest();
}

Result<bool> RescueFolder::SaveManifest() const {
  nlohmann::json j;
  j["format"] = "pgrescue-rescue-1";
  j["data_dir"] = data_dir_;
  j["purpose"] = purpose_;
  j["created_at"] = created_at_;
  j["kept"] = nlohmann::json::array();
  for (const auto& f : kept_) j["kept"].push_back(ToJson(f));
  j["created"] = nlohmann::json::array();
  for (const auto& f : created_) j["created"].push_back(ToJson(f));
  j["copied"] = nlohmann::json::array();
  for (const auto& f : copied_) j["copied"].push_back(ToJson(f));
  const std::string text = j.dump(2) + "\n";
  return WriteFileAtomically(dir_ + "/manifest.json",
                             {reinterpret_cast<const uint8_t*>(text.data()), text.size()}, 0,
                             FileOwner{geteuid(), getegid(), 0600});
}

Result<std::vector<std::string>> UndoRescue(const std::string& rescue_dir) {
  std::ifstream in(rescue_dir + "/manifest.json");
  if (!in) return MakeError(ErrorCode::kIo, "no manifest.json: not a pgrescue rescue folder", rescue_dir);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return MakeError(ErrorCode::kIo, std::string("manifest.json cannot be parsed: ") + e.what(), rescue_dir);
  }
  const std::string data_dir = j.at("data_dir");
  std::vector<std::string> done;
  // Check everything before changing anything.
  for (const auto& f : j.at("kept")) {
    const std::string kept = rescue_dir + "/files/" + f.at("path").get<std::string>();
    auto sha = Sha256OfFile(kept);
    if (!sha) return sha.error();
    if (*sha != f.at("sha256")) return MakeError(ErrorCode::kIo, "the kept copy no longer matches its manifest", kept);
  }
  const auto copied = j.contains("copied") ? j.at("copied") : nlohmann::json::array();
  for (const auto& f : copied) {
    const std::string kept = rescue_dir + "/copies/" + f.at("path").get<std::string>();
    auto sha = Sha256OfFile(kept);
    if (!sha || *sha != f.at("sha256")) {
      return MakeError(ErrorCode::kIo, "the kept copy no longer matches its manifest", kept);
    }
  }
  // Copies of files left in place: put back only those that changed since.
  for (const auto& f : copied) {
    const std::string relative = f.at("path");
    const std::string to = data_dir + "/" + relative;
    auto now = Sha256OfFile(to);
    if (now && *now == f.at("sha256")) continue;
    if (fs::exists(to) && unlink(to.c_str()) != 0) return IoError("could not remove", to);
    if (auto r = MoveDurably(rescue_dir + "/copies/" + relative, to, f.at("sha256")); !r) return r.error();
    const std::string mode = f.at("mode");
    chmod(to.c_str(), static_cast<mode_t>(std::stoul(mode, nullptr, 8)));
    if (lchown(to.c_str(), f.at("uid").get<uid_t>(), f.at("gid").get<gid_t>()) != 0 && geteuid() == 0) {
      return IoError("could not restore the owner of", to);
    }
    done.push_back("restored " + relative + " (changed since: the server ran)");
  }
  for (const auto& f : j.at("created")) {
    const std::string path = data_dir + "/" + f.at("path").get<std::string>();
    if (!fs::exists(path)) continue;
    auto sha = Sha256OfFile(path);
    const bool changed = !sha || *sha != f.at("sha256");
    if (unlink(path.c_str()) != 0) return IoError("could not remove", path);
    done.push_back(fmt::format("removed {}{}", f.at("path").get<std::string>(),
                               changed ? " (changed since the reset: the server ran)" : ""));
  }
  for (const auto& f : j.at("kept")) {
    const std::string relative = f.at("path");
    const std::string to = data_dir + "/" + relative;
    if (fs::exists(to)) {
      return MakeError(ErrorCode::kIo, "a file is in the way of restoring it; move it aside and retry", to);
    }
    if (auto r = MoveDurably(rescue_dir + "/files/" + relative, to, f.at("sha256")); !r) return r.error();
    const std::string mode = f.at("mode");
    chmod(to.c_str(), static_cast<mode_t>(std::stoul(mode, nullptr, 8)));
    if (lchown(to.c_str(), f.at("uid").get<uid_t>(), f.at("gid").get<gid_t>()) != 0 && geteuid() == 0) {
      return IoError("could not restore the owner of", to);
    }
    done.push_back("restored " + relative);
  }
  const std::string undone = rescue_dir + "/manifest.json";
  rename(undone.c_str(), (rescue_dir + "/manifest.undone.json").c_str());
  return done;
}

}  // namespace pgrescue
