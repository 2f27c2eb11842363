// GUI tests of the quantization inspector: the numbers it shows, checked against hand computations
// and against an independent double-precision reference written here (never against the report
// function the inspector itself calls); sorting, channel switching, the sweep, exports.

#include <QFile>
#include <QHeaderView>
#include <QImage>
#include <QPainter>
#include <QSortFilterProxyModel>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "editor_bridge/viewer/ChannelQuantStats.h"
#include "editor_bridge/viewer/PlotWidget.h"
#include "editor_bridge/viewer/QuantInspector.h"
#include "editor_bridge/viewer/TensorViewer.h"
#include "test_viewer_helpers.h"

namespace test_viewer_inspector {

using namespace qs;
using namespace qs::editor;

namespace {

// inputs [4, 2] (channel = column), 2 bits, narrow_range false: quant_min 0, quant_max 3.
//
// Channel 0: min -1, max 2. scale = 3 / 3 = 1; zp_from_min = 0 - (-1) / 1 = 1, so zp = 1;
//   nudged min = (0 - 1) * 1 = -1, nudged max = (3 - 1) * 1 = 2; levels -1, 0, 1, 2.
//   samples -3, -0.4, 0.6, 2.5: -3 < -1 clipped below (1/4 = 25%), 2.5 > 2 clipped above (25%).
//   quant_zero = floor(1 * 1 + 0.5) = 1. outputs: -3 -> -1; -0.4 -> floor(0.6 - 1 + 0.5) = 0
//   -> 0; 0.6 -> floor(1.6 - 1 + 0.5) = 1 -> 1; 2.5 -> clamp 2 -> floor(3 - 1 + 0.5) = 2 -> 2.
//   errors^2: 4, 0.16, 0.16, 0.25: sum 4.57, MSE 1.1425.
//   signal: 9 + 0.16 + 0.36 + 6.25 = 15.77. SQNR = 10 log10(15.77 / 4.57) = 5.3792 dB.
// Channel 1: min 0, max 1.5. scale = 1.5 / 3 = 0.5; zp_from_min = 0 - 0 / 0.5 = 0, zp = 0;
//   nudged [0, 1.5]; levels 0, 0.5, 1, 1.5.
//   samples 0.2, 0.3, 1.0, -0.1: -0.1 clipped below (25%), none above (0%).
//   quant_zero = 0. outputs: 0.2 -> floor(0.4 + 0.5) = 0 -> 0; 0.3 -> floor(0.6 + 0.5) = 1
//   -> 0.5; 1.0 -> floor(2 + 0.5) = 2 -> 1; -0.1 -> clamp 0 -> 0.
//   errors^2: 0.04, 0.04, 0, 0.01: sum 0.09, MSE 0.0225.
//   signal: 0.04 + 0.09 + 1 + 0.01 = 1.14. SQNR = 10 log10(1.14 / 0.09) = 11.0266 dB.
Tensor smallInputs() {
  return Tensor::fromValues({4, 2}, {-3.0f, 0.2f, -0.4f, 0.3f, 0.6f, 1.0f, 2.5f, -0.1f});
}
const std::vector<float> kMins = {-1.0f, 0.0f};
const std::vector<float> kMaxs = {2.0f, 1.5f};

struct Shown {
  TensorViewer viewer;
  QuantInspector* inspector = nullptr;
  explicit Shown(const BlockResultsView& v) {
    viewer.resize(1200, 800);
    viewer.show();
    viewer.showBlock(v);
    inspector = viewer.inspector();
  }
};

// Clicks the table row that shows `channel` (wherever sorting put it).
void clickChannelRow(QuantInspector* in, int channel) {
  QTableView* table = in->table();
  const QModelIndex row = in->proxy()->mapFromSource(in->model()->index(channel, 0));
  table->scrollTo(row);
  const QRect r = table->visualRect(row);
  QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, r.center());
}

void clickHeader(QuantInspector* in, int column) {
  QHeaderView* header = in->table()->horizontalHeader();
  const int x = header->sectionViewportPosition(column) + header->sectionSize(column) / 2;
  QTest::mouseClick(header->viewport(), Qt::LeftButton, {}, QPoint(x, header->height() / 2));
}

int channelAtRow(QuantInspector* in, int row) {
  return in->proxy()->mapToSource(in->proxy()->index(row, 0)).row();
}

// One channel's statistics, computed independently of blocks/array_ops: the nudge in double with
// an explicit rounding to float32 after each operation TensorFlow does in float32 (for + - * /
// that equals the float32 operation), the output as a whole number of steps from the nudged
// minimum, divided and rounded half up in double, and the powers as plain double loops.
struct RefChannel {
  float scale = 0, nudgedMin = 0, nudgedMax = 0;
  int zeroPoint = 0;
  double below = 0, above = 0, mse = 0, sqnrDb = 0;
};

RefChannel referenceChannel(const std::vector<float>& xs, float min, float max, int bits,
                            bool narrow) {
  auto f32 = [](double v) { return static_cast<float>(v); };
  const double qmin = narrow ? 1 : 0, qmax = std::ldexp(1.0, bits) - 1;
  RefChannel r;
  r.scale = f32(static_cast<double>(f32(double(max) - double(min))) / (qmax - qmin));
  const float zpFromMin = f32(qmin - static_cast<double>(f32(double(min) / r.scale)));
  const double zp = zpFromMin < qmin   ? qmin
                    : zpFromMin > qmax ? qmax
                                       : std::floor(double(zpFromMin) + 0.5);  // >= 0: half away
  r.zeroPoint = static_cast<int>(zp);
  r.nudgedMin = f32((qmin - zp) * r.scale);
  r.nudgedMax = f32((qmax - zp) * r.scale);
  double signal = 0, noise = 0;
  for (float x : xs) {
    r.below += x < r.nudgedMin;
    r.above += x > r.nudgedMax;
    const double c = std::isnan(x) ? x : std::clamp<double>(x, r.nudgedMin, r.nudgedMax);
    const double steps = std::floor((c - r.nudgedMin) / r.scale + 0.5);
    const double y = (steps + qmin - zp) * r.scale;
    signal += double(x) * x;
    noise += (y - x) * (y - x);
  }
  const double n = static_cast<double>(xs.size());
  r.below /= n;
  r.above /= n;
  r.mse = noise / n;
  r.sqnrDb = 10.0 * std::log10((signal / n) / r.mse);
  return r;
}

std::vector<float> column(const std::vector<float>& v, int channel, int channels) {
  std::vector<float> out;
  for (size_t i = static_cast<size_t>(channel); i < v.size(); i += channels) out.push_back(v[i]);
  return out;
}

}  // namespace

TEST_CASE("inspector is the first tab of a FakeQuant block", "[viewer][inspector]") {
  Shown s(testing::perChannelBlock(smallInputs(), kMins, kMaxs, 2));
  REQUIRE(s.viewer.inspectorShown());
  CHECK(s.viewer.tabs()->currentWidget() == s.inspector);
  CHECK(s.viewer.tabs()->tabText(0) == "Quantization");
  CHECK(s.inspector->channelCount() == 2);
  // It opens on the channel with the lowest SQNR: channel 0 (5.38 dB against 11.03 dB).
  CHECK(s.inspector->currentChannel() == 0);

  // Without min/max the inspector cannot work: the tab goes, the values stay.
  BlockResultsView v = testing::perChannelBlock(smallInputs(), kMins, kMaxs, 2);
  v.inputs.erase("min");
  s.viewer.showBlock(v);
  CHECK_FALSE(s.viewer.inspectorShown());
  CHECK(s.viewer.currentResultName() == "fq.result_output");
}

TEST_CASE("inspector numbers match the hand computation", "[viewer][inspector]") {
  Shown s(testing::perChannelBlock(smallInputs(), kMins, kMaxs, 2));
  REQUIRE(s.inspector->channelCount() == 2);
  const auto& st = s.inspector->channelStats();
  // Channel 0.
  CHECK(st[0].nudged.scale == 1.0f);
  CHECK(st[0].nudged.zeroPoint == 1);
  CHECK(st[0].nudged.nudgedMin == -1.0f);
  CHECK(st[0].nudged.nudgedMax == 2.0f);
  CHECK(st[0].levels() == 4);
  const float levels0[] = {-1, 0, 1, 2};
  for (int k = 0; k < 4; ++k) CHECK(levelValue(st[0], k) == levels0[k]);
  CHECK(st[0].fractionBelow() == 0.25);
  CHECK(st[0].fractionAbove() == 0.25);
  CHECK(st[0].mse() == Approx(1.1425).epsilon(1e-6));
  CHECK(st[0].sqnrDb() == Approx(10 * std::log10(15.77 / 4.57)).epsilon(1e-6));
  // Channel 1.
  CHECK(st[1].nudged.scale == 0.5f);
  CHECK(st[1].nudged.zeroPoint == 0);
  CHECK(st[1].nudged.nudgedMin == 0.0f);
  CHECK(st[1].nudged.nudgedMax == 1.5f);
  const float levels1[] = {0, 0.5f, 1, 1.5f};
  for (int k = 0; k < 4; ++k) CHECK(levelValue(st[1], k) == levels1[k]);
  CHECK(st[1].fractionBelow() == 0.25);
  CHECK(st[1].fractionAbove() == 0.0);
  CHECK(st[1].mse() == Approx(0.0225).epsilon(1e-6));
  CHECK(st[1].sqnrDb() == Approx(10 * std::log10(1.14 / 0.09)).epsilon(1e-6));

  // What the table shows.
  ChannelTableModel* m = s.inspector->model();
  CHECK(m->index(0, ChannelTableModel::NudgedMin).data().toString() == "-1");
  CHECK(m->index(0, ChannelTableModel::ZeroPoint).data().toString() == "1");
  CHECK(m->index(0, ChannelTableModel::ClippedBelow).data().toString() == "25");
  CHECK(m->index(1, ChannelTableModel::Scale).data().toString() == "0.5");
  CHECK(m->index(1, ChannelTableModel::ClippedAbove).data().toString() == "0");
  CHECK(m->index(1, ChannelTableModel::SqnrDb).data().toString() == "11.03");

  // The output histogram of channel 0 counts the block's real output on the levels: one value on
  // each of -1, 0, 1, 2 and none off them.
  CHECK(s.inspector->outputHistogram().levelCounts == std::vector<int64_t>{1, 1, 1, 1});
  CHECK(s.inspector->outputHistogram().offLevel == 0);
  // Input histogram of channel 0: every sample counted, the tails marked by the nudged range.
  int64_t total = 0;
  for (int64_t b : s.inspector->inputHistogram().hist.bins) total += b;
  CHECK(total == 4);
  CHECK(s.inspector->inputHistogram().x0 < -3.0);
  CHECK(s.inspector->inputHistogram().x1 > 2.5);
}

TEST_CASE("inspector agrees with an independent reference on a realistic tensor",
          "[viewer][inspector]") {
  // A realistic channel mix with a NaN and an infinity: every number of the inspector's table
  // must be the one referenceChannel() computes from the same data.
  std::vector<float> v(64 * 3);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<float>(i) * 0.37f) * 3.0f;
  v[7] = std::numeric_limits<float>::quiet_NaN();  // channel 1
  v[11] = std::numeric_limits<float>::infinity();  // channel 2
  const Tensor x = Tensor::fromValues({64, 3}, v);
  const std::vector<float> mins = {-2.0f, -1.0f, -3.5f}, maxs = {2.0f, 3.0f, 0.5f};
  Shown s(testing::perChannelBlock(x, mins, maxs, 4, true));
  REQUIRE(s.inspector->channelCount() == 3);
  ChannelTableModel* m = s.inspector->model();
  auto shown = [&](int c, int col) { return m->index(c, col).data(Qt::UserRole).toDouble(); };
  for (int c = 0; c < 3; ++c) {
    INFO("channel " << c);
    const RefChannel r = referenceChannel(column(v, c, 3), mins[c], maxs[c], 4, true);
    const ChannelQuantStats& a = s.inspector->channelStats()[c];
    CHECK(shown(c, ChannelTableModel::NudgedMin) == r.nudgedMin);
    CHECK(shown(c, ChannelTableModel::NudgedMax) == r.nudgedMax);
    CHECK(shown(c, ChannelTableModel::Scale) == r.scale);
    CHECK(shown(c, ChannelTableModel::ZeroPoint) == r.zeroPoint);
    CHECK(shown(c, ChannelTableModel::ClippedBelow) == Approx(100.0 * r.below).epsilon(1e-12));
    CHECK(shown(c, ChannelTableModel::ClippedAbove) == Approx(100.0 * r.above).epsilon(1e-12));
    // The levels the plots draw run over the nudged range.
    CHECK(levelValue(a, 0) == r.nudgedMin);
    CHECK(levelValue(a, a.levels() - 1) == r.nudgedMax);
    // narrow_range at 4 bits: quant levels 1..15, 15 levels.
    CHECK(a.levels() == 15);
  }
  // Channel 0 has finite values only: its MSE and SQNR are numbers.
  const RefChannel r0 = referenceChannel(column(v, 0, 3), mins[0], maxs[0], 4, true);
  CHECK(s.inspector->channelStats()[0].mse() == Approx(r0.mse).epsilon(1e-6));
  CHECK(shown(0, ChannelTableModel::SqnrDb) == Approx(r0.sqnrDb).epsilon(1e-6));
  // A NaN or an infinity in the channel makes MSE and SQNR undefined.
  CHECK(std::isnan(referenceChannel(column(v, 1, 3), mins[1], maxs[1], 4, true).sqnrDb));
  CHECK(std::isnan(s.inspector->channelStats()[1].sqnrDb()));
  CHECK(std::isnan(s.inspector->channelStats()[2].sqnrDb()));
  CHECK(m->index(1, ChannelTableModel::SqnrDb).data().toString() == "nan");
  CHECK(m->index(2, ChannelTableModel::SqnrDb).data().toString() == "nan");
  // Opened on the first channel whose SQNR is undefined.
  CHECK(s.inspector->currentChannel() == 1);
  // Every output value of the real kernel sits on one of the channel's levels.
  for (int c = 0; c < 3; ++c) {
    s.inspector->selectChannel(c);
    CHECK(s.inspector->outputHistogram().offLevel == 0);
  }
}

TEST_CASE("inspector table sorts by a clicked header", "[viewer][inspector]") {
  Shown s(testing::perChannelBlock(smallInputs(), kMins, kMaxs, 2));
  QuantInspector* in = s.inspector;
  // SQNR: channel 0 has 5.38 dB, channel 1 has 11.03 dB.
  clickHeader(in, ChannelTableModel::SqnrDb);
  const Qt::SortOrder first = in->table()->horizontalHeader()->sortIndicatorOrder();
  CHECK(in->table()->horizontalHeader()->sortIndicatorSection() == ChannelTableModel::SqnrDb);
  CHECK(channelAtRow(in, 0) == (first == Qt::AscendingOrder ? 0 : 1));
  clickHeader(in, ChannelTableModel::SqnrDb);
  CHECK(in->table()->horizontalHeader()->sortIndicatorOrder() != first);
  CHECK(channelAtRow(in, 0) == (first == Qt::AscendingOrder ? 1 : 0));
  // % clipped above: channel 1 (0%) before channel 0 (25%) ascending.
  clickHeader(in, ChannelTableModel::ClippedAbove);
  const Qt::SortOrder o = in->table()->horizontalHeader()->sortIndicatorOrder();
  CHECK(channelAtRow(in, 0) == (o == Qt::AscendingOrder ? 1 : 0));
  // Sorting does not change which channel is shown.
  CHECK(in->currentChannel() == 0);
}

TEST_CASE("inspector shows the channel of the clicked row", "[viewer][inspector]") {
  Shown s(testing::perChannelBlock(smallInputs(), kMins, kMaxs, 2));
  QuantInspector* in = s.inspector;
  clickChannelRow(in, 1);
  CHECK(in->currentChannel() == 1);
  CHECK(in->inputHistogram().stats.channel == 1);
  CHECK(in->inputHistogram().stats.nudged.nudgedMax == 1.5f);
  // Channel 1's real outputs: 0 twice (0.2 and -0.1), 0.5 once, 1 once, 1.5 never.
  CHECK(in->outputHistogram().levelCounts == std::vector<int64_t>{2, 1, 1, 0});
  CHECK(in->transferPlot()->hasPlot());
  clickChannelRow(in, 0);
  CHECK(in->currentChannel() == 0);

  // A live update (new num_bits) keeps the channel the user picked.
  clickChannelRow(in, 1);
  s.viewer.showBlock(testing::perChannelBlock(smallInputs(), kMins, kMaxs, 3));
  REQUIRE(testing::waitIdle(s.viewer));
  CHECK(in->currentChannel() == 1);
  CHECK(in->currentStats()->levels() == 8);
  CHECK(s.viewer.tabs()->currentWidget() == in);
}

TEST_CASE("bit-width sweep finishes with 15 points per curve", "[viewer][inspector]") {
  Shown s(testing::perChannelBlock(smallInputs(), kMins, kMaxs, 2));
  QuantInspector* in = s.inspector;
  REQUIRE(QTest::qWaitFor([&] { return in->sweepReady(); }, 20000));
  const SweepData& d = in->sweep();
  REQUIRE(d.wide.size() == 15);
  REQUIRE(d.narrow.size() == 15);
  CHECK(d.wide.front().numBits == 2);
  CHECK(d.wide.back().numBits == 16);
  // The 2-bit point of the wide curve is channel 0's hand-computed SQNR (see smallInputs()).
  CHECK(d.wide.front().sqnrDb == Approx(10 * std::log10(15.77 / 4.57)).epsilon(1e-6));
  // 3 bits by hand: scale 3/7, zp_from_min 7/3 -> 2, nudged [-6/7, 15/7]; -3 -> -6/7,
  // -0.4 -> -3/7, 0.6 -> 3/7, 2.5 -> 15/7; errors 15/7, -0.2/7, -1.2/7, -2.5/7: summed squares
  // (225 + 0.04 + 1.44 + 6.25) / 49 = 232.73 / 49 against the signal's 15.77.
  CHECK(d.wide[1].sqnrDb == Approx(10 * std::log10(15.77 * 49 / 232.73)).epsilon(1e-6));
  // Every point, wide and narrow, against the independent reference.
  const std::vector<float> ch0 = {-3.0f, -0.4f, 0.6f, 2.5f};
  for (int k = 0; k < 15; ++k) {
    INFO("num_bits " << k + 2);
    CHECK(d.wide[k].sqnrDb == Approx(referenceChannel(ch0, -1, 2, k + 2, false).sqnrDb));
    CHECK(d.narrow[k].sqnrDb == Approx(referenceChannel(ch0, -1, 2, k + 2, true).sqnrDb));
  }
  CHECK(in->sweepPlot()->hasPlot());
  // Switching channel restarts it for that channel.
  clickChannelRow(in, 1);
  REQUIRE(QTest::qWaitFor([&] { return in->sweepReady(); }, 20000));
  CHECK(in->sweep().wide.front().sqnrDb == Approx(10 * std::log10(1.14 / 0.09)).epsilon(1e-6));
}

TEST_CASE("a sweep without a finite SQNR says why instead of drawing empty axes",
          "[viewer][inspector]") {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  SweepData d;
  d.title = "SQNR vs bits, channel 0";
  for (int bits = 2; bits <= 16; ++bits) {
    d.wide.push_back({bits, inf});
    d.narrow.push_back({bits, inf});
  }
  CHECK(sweepWithoutPoints(d).contains("infinite"));
  // Drawn: the message's dark text lands in the middle of the plot area.
  QImage img(400, 260, QImage::Format_RGB32);
  img.fill(Qt::white);
  {
    QPainter p(&img);
    paintSweep(p, QRectF(0, 0, 400, 260), d);
  }
  int dark = 0;
  for (int x = 120; x < 340; ++x)
    for (int y = 110; y < 150; ++y) dark += qGray(img.pixel(x, y)) < 100;
  CHECK(dark > 50);

  for (SweepPoint& pt : d.wide) pt.sqnrDb = nan;
  for (SweepPoint& pt : d.narrow) pt.sqnrDb = nan;
  CHECK(sweepWithoutPoints(d).contains("undefined"));
  d.narrow[3].sqnrDb = 12.5;  // one finite point: a plot, no message
  CHECK(sweepWithoutPoints(d).isEmpty());
}

TEST_CASE("inspector works for the scalar-range ops", "[viewer][inspector]") {
  // FakeQuantWithMinMaxArgs, min -6 max 6 as attributes, 8 bits: scale 12/255, one "channel".
  BlockResultsView v;
  v.blockId = QStringLiteral("a");
  v.type = QStringLiteral("FakeQuantWithMinMaxArgs");
  v.status = BlockStatus::Ok;
  v.attrs.set("num_bits", int64_t{8});
  v.attrs.set("narrow_range", false);
  v.attrs.set("min", -6.0);
  v.attrs.set("max", 6.0);
  v.inputs["inputs"] = Tensor::fromValues({5}, {-7, -1, 0, 1, 7});
  v.outputs["output"] = Tensor::fromValues({5}, {0, 0, 0, 0, 0});
  Shown s(v);
  REQUIRE(s.viewer.inspectorShown());
  REQUIRE(s.inspector->channelCount() == 1);
  const ChannelQuantStats& st = s.inspector->channelStats()[0];
  CHECK(st.nudged.scale == 12.0f / 255.0f);
  CHECK(st.below() == 1);
  CHECK(st.above() == 1);
  CHECK(st.fractionBelow() == 0.2);
  // By hand: scale 12/255 = 4/85; zp_from_min = 6 / (4/85) = 127.5 (exact in float32), rounded
  // half away to 128; nudged range [-128 * 4/85, 127 * 4/85] = [-6.0235294, 5.9764706].
  // Outputs: -7 -> -512/85, -1 -> -21 * 4/85 = -84/85, 0 -> 0, 1 -> 84/85, 7 -> 508/85.
  // Errors: 83/85, 1/85, 0, -1/85, -87/85: MSE = (83^2 + 1 + 1 + 87^2) / 85^2 / 5 = 14460 / 36125.
  // Signal (49 + 1 + 0 + 1 + 49) / 5 = 20.
  CHECK(st.nudged.zeroPoint == 128);
  CHECK(st.nudged.nudgedMin == Approx(-512.0 / 85).epsilon(1e-6));
  CHECK(st.nudged.nudgedMax == Approx(508.0 / 85).epsilon(1e-6));
  CHECK(st.mse() == Approx(14460.0 / 36125).epsilon(1e-6));
  CHECK(st.sqnrDb() == Approx(10 * std::log10(20 * 36125.0 / 14460)).epsilon(1e-6));
  CHECK(
      s.inspector->model()->index(0, ChannelTableModel::NudgedMin).data(Qt::UserRole).toDouble() ==
      Approx(-512.0 / 85).epsilon(1e-6));
}

TEST_CASE("the inspector rounds Args by the product and Vars by the quotient",
          "[viewer][inspector]") {
  // x = -4.63529444 in [-6, 6] at 8 bits lies next to a midpoint, where TensorFlow's Args
  // (multiplying by the inverse scale) gives -4.61176491 and its Vars (dividing by the scale)
  // -4.65882349, a level apart (tests/unit/test_fakequant_midpoints.cpp derives both). With one
  // element the table's MSE is the square of that value's error.
  const float x = -4.63529444f;
  auto view = [&](const char* type) {
    BlockResultsView v;
    v.blockId = QStringLiteral("q");
    v.type = QString::fromLatin1(type);
    v.status = BlockStatus::Ok;
    v.attrs.set("num_bits", int64_t{8});
    v.attrs.set("narrow_range", false);
    v.inputs["inputs"] = Tensor::fromValues({1}, {x});
    v.outputs["output"] = Tensor::fromValues({1}, {0});
    return v;
  };
  BlockResultsView args = view("FakeQuantWithMinMaxArgs");
  args.attrs.set("min", -6.0);
  args.attrs.set("max", 6.0);
  BlockResultsView vars = view("FakeQuantWithMinMaxVars");
  vars.inputs["min"] = Tensor::scalar(-6.0f);
  vars.inputs["max"] = Tensor::scalar(6.0f);
  const std::pair<const BlockResultsView*, float> cases[] = {{&args, -4.61176491f},
                                                             {&vars, -4.65882349f}};
  for (const auto& [v, y] : cases) {
    INFO(v->type.toStdString());
    Shown s(*v);
    REQUIRE(s.viewer.inspectorShown());
    REQUIRE(s.inspector->channelCount() == 1);
    const double e = static_cast<double>(y) - static_cast<double>(x);
    CHECK(s.inspector->channelStats()[0].mse() == e * e);
  }
}

TEST_CASE("inspector exports the table as CSV and the plots as PNG and SVG",
          "[viewer][inspector]") {
  QTemporaryDir dir;
  REQUIRE(dir.isValid());
  Shown s(testing::perChannelBlock(smallInputs(), kMins, kMaxs, 2));
  REQUIRE(QTest::qWaitFor([&] { return s.inspector->sweepReady(); }, 20000));
  const QString csv = dir.filePath("t.csv");
  REQUIRE(s.inspector->exportCsv(csv));
  QFile f(csv);
  REQUIRE(f.open(QIODevice::ReadOnly));
  const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].startsWith("channel,min,max,nudged_min,nudged_max,scale,zero_point"));
  CHECK(lines[1].startsWith("0,-1,2,-1,2,1,1,4,1,1,25,25,"));
  CHECK(lines[2].startsWith("1,0,1.5,0,1.5,0.5,0,4,1,0,25,0,"));
  QString error;
  REQUIRE(s.inspector->exportPlots(dir.path(), &error));
  for (const char* name : {"inspector-input-histogram", "inspector-output-histogram",
                           "inspector-transfer-curve", "inspector-bit-sweep"}) {
    QFile svg(dir.filePath(QString(name) + ".svg"));
    REQUIRE(svg.open(QIODevice::ReadOnly));
    CHECK(svg.readAll().contains("<svg"));
    CHECK_FALSE(QImage(dir.filePath(QString(name) + ".png")).isNull());
  }
}

TEST_CASE("inspector survives the edge cases of docs/spec.md and paints them",
          "[viewer][inspector]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  struct Case {
    const char* what;
    Tensor x;
    std::vector<float> mins, maxs;
    int bits;
  };
  const Case cases[] = {
      {"empty batch", Tensor::zeros({0, 2}), {-1, 0}, {1, 1}, 8},
      {"min == max == 0 and min > max",
       Tensor::fromValues({2, 2}, {1, 2, 3, 4}),
       {0, 2},
       {0, 1},
       8},
      {"min == max != 0", Tensor::fromValues({2, 1}, {1, 2}), {1}, {1}, 8},
      {"NaN and infinities", Tensor::fromValues({3, 1}, {nan, inf, -inf}), {-1}, {1}, 16},
      {"range not containing 0, 16 bits", Tensor::fromValues({3, 1}, {5, 6, 7}), {5}, {6}, 16},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Shown s(testing::perChannelBlock(c.x, c.mins, c.maxs, c.bits));
    REQUIRE(s.viewer.inspectorShown());
    REQUIRE(QTest::qWaitFor([&] { return !s.inspector->busy(); }, 20000));
    CHECK(s.inspector->channelCount() == static_cast<int>(c.mins.size()));
    for (int ch = 0; ch < s.inspector->channelCount(); ++ch) {
      clickChannelRow(s.inspector, ch);
      REQUIRE(QTest::qWaitFor([&] { return !s.inspector->busy(); }, 20000));
      for (PlotWidget* w : {s.inspector->inputPlot(), s.inspector->outputPlot(),
                            s.inspector->transferPlot(), s.inspector->sweepPlot()}) {
        QImage img(400, 260, QImage::Format_ARGB32);
        QPainter p(&img);
        w->render(p, QRectF(img.rect()));
      }
    }
  }
  // As docs/spec.md says: min == max == 0 outputs zeros, min > max outputs nudged min everywhere;
  // neither is an error. Channel 0 (min = max = 0), inputs 1 and 3: outputs 0, errors 1 and 3, MSE
  // 5, signal (1 + 9) / 2 = 5, SQNR 0 dB. Channel 1 (min 2 > max 1), inputs 2 and 4: scale -1/255,
  // zero point clamped to 255, nudged min (0 - 255) * scale = 1, outputs 1, errors 1 and 3, MSE 5,
  // signal (4 + 16) / 2 = 10, SQNR 10 log10(2) = 3.01 dB.
  Shown s(testing::perChannelBlock(Tensor::fromValues({2, 2}, {1, 2, 3, 4}), {0, 2}, {0, 1}, 8));
  const auto& st = s.inspector->channelStats();
  CHECK(st[0].mse() == 5.0);
  CHECK(st[0].sqnrDb() == Approx(0.0).margin(1e-12));
  CHECK(st[1].nudged.zeroPoint == 255);
  CHECK(st[1].nudged.nudgedMin == Approx(1.0f).epsilon(1e-6));
  CHECK(st[1].mse() == Approx(5.0).epsilon(1e-5));
  CHECK(st[1].sqnrDb() == Approx(10 * std::log10(2.0)).epsilon(1e-4));
  CHECK(s.inspector->model()->index(1, ChannelTableModel::SqnrDb).data().toString() == "3.01");
  for (int ch = 0; ch < 2; ++ch) {
    clickChannelRow(s.inspector, ch);
    CHECK(s.inspector->outputHistogram().offLevel == 0);
  }
}

}  // namespace test_viewer_inspector
