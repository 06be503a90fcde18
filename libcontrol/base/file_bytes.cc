#include "libcontrol/base/file_bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace pgrescue {

bool AppendFileBytes(const std::string& path, std::vector<uint8_t>* out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  const size_t start = out->size();
  bool ok = fstat(fd, &st) == 0;
  // The size is a hint: a file that grows or shrinks meanwhile is read to its end.
  size_t have = start;
  out->resize(start + (ok ? static_cast<size_t>(st.st_size) : 0) + 1);
  while (ok) {
    if (have == out->size()) out->resize(out->size() * 2);
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
