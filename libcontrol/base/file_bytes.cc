#include "libcontrol/base/file_bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace pgrescue {
namespace {

const char* WhatItIs(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

// Reads up to `want` bytes at `out`; the bytes read, or -1.
ssize_t ReadUpTo(int fd, uint8_t* out, size_t want) {
  size_t have = 0;
  while (have < want) {
    const ssize_t n = read(fd, out + have, want - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(have);
}

}  // namespace

int OpenRegularFile(const std::string& path) {
  // Look before opening: opening a device can itself act (a tape rewinds).
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    return -1;
  }
  // O_NONBLOCK: a FIFO swapped in since would otherwise wait for a writer.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return -1;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int why = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    close(fd);
    errno = why;
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

Result<FileHead> ReadFileHead(const std::string& path, uint64_t limit) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return MakeError(ErrorCode::kIo, fmt::format("could not open for reading: {}", std::strerror(errno)), path);
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kInvalidArgument, fmt::format("is {}, not a file", WhatItIs(st.st_mode)), path);
  }
  const int fd = OpenRegularFile(path);
  if (fd < 0) {
    return MakeError(ErrorCode::kIo, fmt::format("could not open for reading: {}", std::strerror(errno)), path);
  }
  FileHead head;
  fstat(fd, &st);
  head.size = static_cast<uint64_t>(st.st_size);
  head.bytes.resize(static_cast<size_t>(std::min(head.size, limit)));
  const ssize_t n = ReadUpTo(fd, head.bytes.data(), head.bytes.size());
  const int why = errno;
  close(fd);
  if (n < 0) return MakeError(ErrorCode::kIo, fmt::format("could not read: {}", std::strerror(why)), path);
  head.bytes.resize(static_cast<size_t>(n));
  return head;
}

std::optional<std::string> ReadSmallText(const std::string& path, uint64_t limit) {
  auto head = ReadFileHead(path, limit);
  if (!head) return std::nullopt;
  return std::string(head->bytes.begin(), head->bytes.end());
}

bool AppendFileBytes(const std::string& path, std::vector<uint8_t>* out, uint64_t limit) {
  const int fd = OpenRegularFile(path);
  if (fd < 0) return false;
  struct stat st {};
  const size_t start = out->size();
  bool ok = fstat(fd, &st) == 0;
  // The size is a hint: a file that grows or shrinks meanwhile is read to
  // its end, or to the limit.
  size_t have = start;
  const size_t end = limit >= SIZE_MAX - start ? SIZE_MAX : start + static_cast<size_t>(limit);
  out->resize(std::min(end, start + (ok ? static_cast<size_t>(st.st_size) : 0) + 1));
  while (ok && have < end) {
    if (have == out->size()) out->resize(std::min(end, out->size() * 2));
    const ssize_t n = read(fd, out->data() + have, out->size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    have += static_cast<size_t>(n);
  }
  close(fd);
  out->resize(ok ? have : start);
  return ok;
}

}  // namespace pgrescue
