#include <benchmark/benchmark.h>

#include <cstdlib>

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
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
