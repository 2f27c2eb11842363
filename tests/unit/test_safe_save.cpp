// A save that dies half way (power cut, crash, SIGKILL) must never leave a truncated page: the
// previous version stays readable until the new one is complete.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "runtime/FileIo.h"
#include "runtime/PageJson.h"

namespace test_safe_save {

namespace fs = std::filesystem;

namespace {

// Size of the temporary file a save of `target` is writing, or -1 if there is none yet.
std::intmax_t tempFileSize(const fs::path& dir, const std::string& target) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(target + ".tmp-", 0) == 0) {
      auto size = e.file_size(ec);
      return ec ? 0 : static_cast<std::intmax_t>(size);
    }
  }
  return -1;
}

}  // namespace

TEST_CASE("a save killed half way leaves the previous page whole", "[filesave]") {
  const fs::path dir = fs::temp_directory_path() / ("qs_safe_save_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path page = dir / "work.page.json";

  qs::Page original;
  original.name = "before the crash";
  qs::Block b;
  b.id = qs::BlockId("x");
  b.type = "Const";
  b.attrs = qs::Json::parse(R"({"shape": [2], "values": [1.5, -2]})");
  original.addBlock(b);
  qs::savePage(original, page, true);
  const std::string before = qs::readFile(page);

  // The child saves a large document over the page; the parent kills it while the temporary
  // file is being written. Tries grow the document until one kill lands mid-write.
  bool killedMidWrite = false;
  for (int attempt = 0; attempt < 4 && !killedMidWrite; ++attempt) {
    const size_t bytes = (size_t{64} << 20) << attempt;
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      std::string huge(bytes, ' ');
      huge.front() = '{';
      huge.back() = '}';
      try {
        qs::writeFileAtomically(page, huge, true);
      } catch (...) {
      }
      ::_exit(0);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int status = 0;
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        break;
      }
      if (tempFileSize(dir, page.filename().string()) > 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        exited = true;
        killedMidWrite = WIFSIGNALED(status);
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (!exited) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    if (!killedMidWrite) {
      // The child finished first: the page is the complete new document. Put the original back
      // and try with a larger one.
      qs::savePage(original, page, true);
    }
  }
  REQUIRE(killedMidWrite);

  // The page is exactly the previous version, and still loads.
  CHECK(qs::readFile(page) == before);
  qs::LoadedPage reloaded = qs::loadPage(page);
  CHECK(reloaded.page.name == "before the crash");
  REQUIRE(reloaded.page.blockCount() == 1);

  // A later save still works and replaces it, keeping the previous version as the backup.
  qs::Page edited = reloaded.page;
  edited.name = "after the crash";
  qs::savePage(edited, page, true);
  CHECK(qs::loadPage(page).page.name == "after the crash");
  CHECK(qs::readFile(fs::path(page.string() + ".bak")) == before);
  fs::remove_all(dir);
}

}  // namespace test_safe_save
