#include <benchmark/benchmark.h>

#include <cstdlib>

#include "tests/bench/BenchShapes.h"

#if QS_BENCH_WITH_EDITOR
#include <QApplication>
#endif

// The editor benchmarks need a QApplication; without a display they use the offscreen platform.
int main(int argc, char** argv) {
#if QS_BENCH_WITH_EDITOR
  if (!std::getenv("QT_QPA_PLATFORM")) setenv("QT_QPA_PLATFORM", "offscreen", 0);
  QApplication app(argc, argv);
#endif
  benchmark::Initialize(&argc, argv);
  // Before any benchmark runs, so that the kernel buffers sit at the same addresses in every run.
  qs::bench::prepareBenchTensors();
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
