#include "libcontrol/reset/rescue_io.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

namespace pgrescue::rescue_io {

Error IoError(const std::string& what, const std::string& path) {
  return MakeError(ErrorCode::kIo, fmt::format("{}: {}", what, std::strerror(errno)), path);
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }
void Sha256::Update(const void* data, size_t size) { EVP_DigestUpdate(ctx_, data, size); }

void Sha256::UpdateZeros(uint64_t count) {
  static const std::vector<uint8_t> zeros(1 << 16, 0);
  for (uint64_t left = count; left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, zeros.size()));
    Update(zeros.data(), n);
    left -= n;
  }
}

std::string Sha256::Hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx_, digest, &length);
  std::string out;
  for (unsigned int i = 0; i < length; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

namespace {

Status FsyncPath(const std::string& path, bool directory) {
  const int fd = open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return IoError("could not open to fsync", path);
  const int rc = fsync(fd);
  close(fd);
  if (rc != 0) return IoError("could not fsync", path);
  return Status::Ok();
}

// Errors that mean "this way of copying is not available here", after which
// the next, plainer way is tried; anything else is a real failure.
bool Unsupported(int error) {
  return error == EOPNOTSUPP || error == ENOTSUP || error == EXDEV || error == EINVAL || error == ENOSYS ||
         error == ENOTTY || error == EBADF || error == EPERM;
}

}  // namespace

std::optional<uint64_t> BirthTimeNs(int dirfd, const std::string& path, int flags) {
  struct statx sx {};
  if (statx(dirfd, path.c_str(), flags | AT_STATX_SYNC_AS_STAT, STATX_BTIME, &sx) != 0) return std::nullopt;
  if ((sx.stx_mask & STATX_BTIME) == 0) return std::nullopt;
  return static_cast<uint64_t>(sx.stx_btime.tv_sec) * 1000000000u + sx.stx_btime.tv_nsec;
}

Status FsyncFile(const std::string& path) { return FsyncPath(path, false); }
Status FsyncDir(const std::string& path) { return FsyncPath(path, true); }

std::string Parent(const std::string& path) { return std::filesystem::path(path).parent_path().string(); }

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

Status Fd::Close(const std::string& path) {
  const int fd = fd_;
  fd_ = -1;
  if (fd >= 0 && close(fd) != 0) return IoError("could not close", path);
  return Status::Ok();
}

Result<Fd> CreateOwned(const std::string& path, const FileOwner& owner, bool exclusive) {
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), 0600));
  if (fd.get() < 0) return IoError("could not create", path);
  // Unprivileged runs can only give files their own owner, which is then
  // what the data directory's files have anyway.
  if (fchown(fd.get(), owner.uid, owner.gid) != 0 && geteuid() == 0) return IoError("could not chown", path);
  if (fchmod(fd.get(), owner.mode) != 0) return IoError("could not chmod", path);
  return fd;
}

Status WriteAll(int fd, const uint8_t* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("could not write", path);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status WriteZeros(int fd, uint64_t count, const std::string& path) {
  static const std::vector<uint8_t> zeros(1 << 20, 0);
  for (uint64_t left = count; left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, zeros.size()));
    if (auto r = WriteAll(fd, zeros.data(), n, path); !r) return r;
    left -= n;
  }
  return Status::Ok();
}

Result<CopyStats> CloneInto(const std::string& from, int to_fd, const std::string& to) {
  Fd in(open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return IoError("could not open", from);
  struct stat st {};
  if (fstat(in.get(), &st) != 0) return IoError("could not stat", from);
  CopyStats stats{static_cast<uint64_t>(st.st_size), false};
  if (ioctl(to_fd, FICLONE, in.get()) == 0) {
    stats.reflinked = true;
  } else {
    if (!Unsupported(errno)) return IoError("could not clone into " + to, from);
    uint64_t done = 0;
    bool in_kernel = true;
    while (done < stats.bytes && in_kernel) {
      const ssize_t n = copy_file_range(in.get(), nullptr, to_fd, nullptr, stats.bytes - done, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && done == 0 && Unsupported(errno)) {
        in_kernel = false;
      } else if (n < 0) {
        return IoError("could not copy to " + to, from);
      } else if (n == 0) {
        return MakeError(ErrorCode::kIo, "the file shrank while it was copied", from);
      } else {
        done += static_cast<uint64_t>(n);
      }
    }
    if (!in_kernel) {
      std::vector<uint8_t> buf(1 << 20);
      for (;;) {
        const ssize_t n = read(in.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return IoError("could not read", from);
        if (n == 0) break;
        if (auto r = WriteAll(to_fd, buf.data(), static_cast<size_t>(n), to); !r) return r.error();
      }
    }
  }
  if (fsync(to_fd) != 0) return IoError("could not fsync", to);
  return stats;
}

}  // namespace pgrescue::rescue_io
