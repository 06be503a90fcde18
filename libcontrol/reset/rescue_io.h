// Durable file primitives shared by the rescue folder (rescue.cc) and undo
// (rescue_undo.cc). Internal to libcontrol: callers outside use rescue.h.
// Every function reports failure as an Error naming the path; none leaves a
// file descriptor open.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <openssl/evp.h>

#include "libcontrol/reset/rescue.h"
#include "libcontrol/base/result.h"

namespace pgrescue::rescue_io {

// An Error from errno as it is now.
Error IoError(const std::string& what, const std::string& path);

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size);
  void UpdateZeros(uint64_t count);
  std::string Hex();  // once, at the end

 private:
  EVP_MD_CTX* ctx_;
};

// A file's identity beyond its inode number, which the filesystem reuses once
// the file is gone: its birth time in nanoseconds, where the filesystem keeps
// one (ext4, XFS, Btrfs); nullopt elsewhere.
std::optional<uint64_t> BirthTimeNs(int dirfd, const std::string& path, int flags);

Status FsyncFile(const std::string& path);
Status FsyncDir(const std::string& path);
std::string Parent(const std::string& path);

// Owns one file descriptor; closes it when it goes. get() is valid only
// while the Fd lives and has not been closed.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&&) = delete;
  Fd(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting the error close() may carry.
  Status Close(const std::string& path);

 private:
  int fd_;
};

// Creates `path` (O_EXCL: it must not exist; else truncated) mode 0600, then
// sets `owner`'s owner and group (required when running as root) and mode, so
// no byte is ever readable under another owner or mode.
Result<Fd> CreateOwned(const std::string& path, const FileOwner& owner, bool exclusive);

Status WriteAll(int fd, const uint8_t* data, size_t size, const std::string& path);
Status WriteZeros(int fd, uint64_t count, const std::string& path);

// Fills the empty file `to_fd` (named `to`) with `from`'s bytes: a reflink
// (FICLONE) where the filesystem shares blocks, else copy_file_range, else
// read and write; then fsyncs it. Does not verify: callers that copied bytes
// compare the SHA-256.
Result<CopyStats> CloneInto(const std::string& from, int to_fd, const std::string& to);

}  // namespace pgrescue::rescue_io
