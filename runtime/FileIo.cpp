#include "runtime/FileIo.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "runtime/Error.h"
#include "runtime/Tensor.h"

namespace qs {

std::string readFile(const std::filesystem::path& path, uint64_t maxBytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error("cannot read '" + path.string() + "': it is a folder");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open '" + path.string() + "': " + std::strerror(errno));
  // In chunks, not through the stream buffer in one go: a pipe or a device has no size to check
  // beforehand, and /dev/zero never ends.
  std::string data;
  char chunk[1 << 16];
  while (in) {
    in.read(chunk, sizeof chunk);
    const auto got = static_cast<uint64_t>(in.gcount());
    if (got > maxBytes - data.size())
      throw Error("cannot read '" + path.string() + "': it holds more than " +
                  formatBytes(maxBytes));
    data.append(chunk, static_cast<size_t>(got));
  }
  if (in.bad()) throw Error("cannot read '" + path.string() + "': " + std::strerror(errno));
  return data;
}

void writeFileAtomically(const std::filesystem::path& path, const std::string& data,
                         bool keepBackup) {
  const std::string target = path.string();
  // Unique per call, so that two saves of one file from the same process (a save and an autosave
  // on different threads) never write the same temporary file.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      target + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  auto fail = [&](const std::string& what) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error("cannot save '" + target + "': " + what + ": " + reason);
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create a temporary file");
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      fail("write failed");
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail("flush failed");
  }
  if (::close(fd) != 0) fail("close failed");
  if (keepBackup && ::access(target.c_str(), F_OK) == 0) {
    const std::string backup = target + ".bak";
    // A hard link keeps the old version even after the rename below replaces `target`.
    ::unlink(backup.c_str());
    if (::link(target.c_str(), backup.c_str()) != 0) {
      std::error_code ec;
      std::filesystem::copy_file(target, backup, std::filesystem::copy_options::overwrite_existing,
                                 ec);
    }
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) fail("rename failed");
  // Make the rename itself durable.
  std::string dir = path.has_parent_path() ? path.parent_path().string() : ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::string lowerExtension(const std::filesystem::path& path) {
  std::string e = path.extension().string();
  for (char& c : e)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return e;
}

}  // namespace qs
