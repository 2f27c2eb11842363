// libFuzzer target: the page loader with validation and evaluation of small pages.
//
// Properties checked on every input, beyond "no crash, no sanitizer report":
// - a page that loads saves, loads back and saves again to the same bytes (docs/formats.md);
// - a page evaluates (shape check, compute, an edit and a cached re-run, a fetch with released
//   intermediates) without an exception escaping the evaluator.
// Tensor sizes are capped here, after the shape-only check and before anything is computed, so
// that a page asking for a large but legal tensor does not exhaust the fuzzer's memory.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "blocks/RegisterBlocks.h"
#include "runtime/Error.h"
#include "runtime/Evaluator.h"
#include "runtime/PageJson.h"

namespace {

constexpr int64_t kMaxElements = 1 << 14;
constexpr size_t kMaxBlocks = 64;

// Const's "npy" may only name the small files in QS_FUZZ_NPY_DIR: anything else could make the
// fuzzer read /dev/stdin or a huge file of the machine.
bool npyPathsAreSafe(const qs::Page& page) {
  for (const qs::Block& b : page.blocks()) {
    auto it = b.attrs.find("npy");
    if (it == b.attrs.end() || !it->is_string()) continue;
    const std::string& s = it->get_ref<const std::string&>();
    if (s.empty() || s[0] == '.') return false;
    for (char c : s)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return false;
  }
  return true;
}

bool shapesAreSmall(const qs::Evaluator& ev, const qs::Page& page) {
  for (const qs::Block& b : page.blocks()) {
    const qs::BlockState* st = ev.state(b.id);
    if (!st) continue;
    for (const auto& [port, shape] : st->outputShapes) {
      int64_t n = 1;
      for (int64_t d : shape) {
        if (d > kMaxElements) return false;
        n *= d;
        if (n > kMaxElements) return false;
      }
    }
  }
  return true;
}

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_page: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The editor's reading (links to missing blocks kept apart): it accepts every page the runner
  // accepts, and more, which must round-trip too.
  const qs::PageReadOptions lenient{.keepDanglingLinks = true};
  qs::LoadedPage loaded;
  try {
    loaded = qs::parsePage(text, "fuzz.page.json", lenient);
  } catch (const qs::Error&) {
    return 0;
  }

  const std::string saved = qs::pageToText(loaded.page);
  qs::LoadedPage again;
  try {
    again = qs::parsePage(saved, "saved.page.json", lenient);
  } catch (const qs::Error& e) {
    fail("a saved page does not load back", std::string(e.what()) + "\n" + saved);
  }
  const std::string savedAgain = qs::pageToText(again.page);
  if (savedAgain != saved)
    fail("saving a loaded page twice gives different bytes", saved + "\n----\n" + savedAgain);

  const qs::Page& page = loaded.page;
  if (page.blockCount() > kMaxBlocks || !npyPathsAreSafe(page)) return 0;

  qs::Evaluator ev(qs::builtinRegistry());
  for (const qs::Block& b : page.blocks())
    if (b.type == "Placeholder") ev.setFeed(b.id, qs::Tensor::filled({2, 3}, 0.5f));
  ev.check(page, QS_FUZZ_NPY_DIR);
  if (!shapesAreSmall(ev, page)) return 0;

  qs::EvalOptions options;
  options.threads = 1;
  options.pageDir = QS_FUZZ_NPY_DIR;
  ev.evaluate(page, options);
  if (page.blockCount() == 0) return 0;

  // An edit, then a run that must reuse what the edit did not touch.
  qs::Page edited = page;
  edited.touch(edited.blocks().front().id);
  ev.evaluate(edited, options);

  // Fetching one result with intermediates released, as the runner does.
  const qs::Block& last = page.blocks().back();
  if (const qs::BlockDescriptor* d = qs::builtinRegistry().find(last.type)) {
    const auto outs = d->outputs();
    if (!outs.empty()) {
      qs::Evaluator fetcher(qs::builtinRegistry());
      qs::EvalOptions fetch = options;
      fetch.fetch = {last.id.str() + "." + qs::resultName(outs.front()->name)};
      fetch.releaseIntermediates = true;
      fetcher.evaluate(page, fetch);
    }
  }
  return 0;
}
