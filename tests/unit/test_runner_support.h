#pragma once
// Shared by the runner and robustness tests: a scratch folder and a way to run quantspace-run as a
// user would (a real process, its stdout, stderr and exit status).

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace qs::test {

// A fresh folder under the system's temporary folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("qs_test_" + std::to_string(::getpid()) + "_" + std::to_string(++counter));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  std::filesystem::path path_;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string shellQuote(const std::string& s) {
  std::string r = "'";
  for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}

struct RunResult {
  int status = -1;  // exit status; 128 + signal if killed by one
  std::string out;
  std::string err;
};

// Runs `program args...` and collects its output.
inline RunResult runProgram(const std::string& program, const std::vector<std::string>& args) {
  TempDir io;
  std::string cmd = shellQuote(program);
  for (const auto& a : args) cmd += " " + shellQuote(a);
  cmd += " >" + shellQuote((io / "out").string()) + " 2>" + shellQuote((io / "err").string());
  const int raw = std::system(cmd.c_str());
  RunResult r;
  if (WIFEXITED(raw))
    r.status = WEXITSTATUS(raw);
  else if (WIFSIGNALED(raw))
    r.status = 128 + WTERMSIG(raw);
  r.out = slurp(io / "out");
  r.err = slurp(io / "err");
  return r;
}

inline RunResult runRunner(const std::vector<std::string>& args) {
  return runProgram(QS_RUNNER_PATH, args);
}

// Never a crash: not a signal, not a sanitizer report (ASan exits with 1, which is also our
// "a block failed").
inline void requireNoCrash(const RunResult& r) {
  INFO("stderr: " << r.err);
  REQUIRE(r.status >= 0);
  REQUIRE(r.status <= 2);
  REQUIRE(r.err.find("Sanitizer") == std::string::npos);
  REQUIRE(r.err.find("runtime error") == std::string::npos);
  REQUIRE(r.err.find("terminate") == std::string::npos);
}

// A python3 that can import numpy, or "" with `missing` saying what is missing and how to install
// it. Tests that need numpy fail without it rather than skip: scripts/install-deps.sh installs it.
inline std::string pythonWithNumpy(std::string* missing) {
  bool havePython = false;
  for (const char* py : {"python3", "/usr/bin/python3"}) {
    const std::string quiet = " >/dev/null 2>&1";
    if (std::system((std::string(py) + " -c pass" + quiet).c_str()) != 0) continue;
    havePython = true;
    if (std::system((std::string(py) + " -c 'import numpy'" + quiet).c_str()) == 0) return py;
  }
  *missing = havePython ? "python3 cannot import numpy" : "python3 is not installed";
  *missing += " (Debian: apt-get install python3-numpy, or run scripts/install-deps.sh)";
  return "";
}

}  // namespace qs::test
