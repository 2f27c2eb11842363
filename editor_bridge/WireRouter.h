#pragma once

#include <QPointF>
#include <QRectF>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace qs::editor {

// The blocks' rectangles in a uniform grid of scene cells, so that a wire asks only the blocks
// near it whether it passes through one (a page of 5,000 blocks has 7,500 wires to check).
class ObstacleIndex {
 public:
  // Adds, moves or (with an empty rectangle) removes the obstacle `key`.
  void set(const void* key, const QRectF& rect);
  QRectF rectOf(const void* key) const;
  // The obstacles whose rectangle intersects `area`, each once.
  std::vector<QRectF> near(const QRectF& area) const;
  // True if the segment p-q enters the inside of any obstacle grown by `margin` (touching its
  // edge does not count).
  bool blocks(QPointF p, QPointF q, double margin = 0) const;

 private:
  static constexpr double kCell = 256;
  static uint64_t cellKey(int64_t cx, int64_t cy);
  template <typename F>
  void forCells(const QRectF& area, F&& f) const;
  struct Entry {
    const void* key;
    QRectF rect;  // a copy, so that a test needs no second look-up
  };
  std::unordered_map<uint64_t, std::vector<Entry>> cells_;
  std::unordered_map<const void*, QRectF> rects_;
};

// True if the segment p-q passes through the inside of `r`.
bool segmentEntersRect(QPointF p, QPointF q, const QRectF& r);

// The path of a wire from the output pin `a` (on a block's right edge) to the input pin `b` (on a
// left edge), as a polyline: the usual S-curve when it passes through no block, otherwise an
// orthogonal route with rounded corners that keeps clear of every block, the wire's own two
// included (a wire back to an earlier block goes around both). `routed` says which was taken. When
// no route is found within reach, the curve is kept.
std::vector<QPointF> routeWire(QPointF a, QPointF b, const ObstacleIndex& obstacles, bool* routed);

// The S-curve of a wire from `a` to `b`, flattened to `segments` straight pieces.
std::vector<QPointF> wireCurve(QPointF a, QPointF b, int segments = 24);

}  // namespace qs::editor
