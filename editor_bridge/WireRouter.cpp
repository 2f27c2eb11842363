#include "editor_bridge/WireRouter.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>

namespace qs::editor {

namespace {
constexpr double kLead = 18;       // the straight run out of an output pin and into an input pin
constexpr double kClear = 14;      // the distance a route's runs keep from the blocks they pass
constexpr double kTouch = 6;       // closer than this a wire would touch a pin or the badge
constexpr double kRadius = 8;      // of a route's rounded corners
constexpr double kBendCost = 60;   // a corner costs as much as this much more length
constexpr size_t kMaxTries = 400;  // candidate routes checked before giving up at one reach

double length(const std::vector<QPointF>& pts) {
  double sum = 0;
  for (size_t i = 1; i < pts.size(); ++i)
    sum += std::abs(pts[i].x() - pts[i - 1].x()) + std::abs(pts[i].y() - pts[i - 1].y());
  return sum;
}

// Drops repeated points and the middle of three points on one line.
std::vector<QPointF> simplified(const std::vector<QPointF>& pts) {
  std::vector<QPointF> out;
  for (const QPointF& p : pts) {
    if (!out.empty() && out.back() == p) continue;
    if (out.size() >= 2) {
      const QPointF& u = out[out.size() - 2];
      const QPointF& v = out.back();
      if ((u.x() == v.x() && v.x() == p.x()) || (u.y() == v.y() && v.y() == p.y())) out.pop_back();
    }
    out.push_back(p);
  }
  return out;
}

// Each corner of an orthogonal polyline replaced by a short curve.
std::vector<QPointF> rounded(const std::vector<QPointF>& pts) {
  std::vector<QPointF> out{pts.front()};
  for (size_t i = 1; i + 1 < pts.size(); ++i) {
    const QPointF p = pts[i - 1], c = pts[i], n = pts[i + 1];
    const double lp = std::hypot(c.x() - p.x(), c.y() - p.y());
    const double ln = std::hypot(n.x() - c.x(), n.y() - c.y());
    const double r = std::min({kRadius, lp / 2, ln / 2});
    const QPointF s = c + (p - c) * (r / lp), e = c + (n - c) * (r / ln);
    out.push_back(s);
    for (double t : {0.25, 0.5, 0.75}) {
      const double u = 1 - t;
      out.push_back(u * u * s + 2 * u * t * c + t * t * e);
    }
    out.push_back(e);
  }
  out.push_back(pts.back());
  return out;
}

struct Candidate {
  double cost;
  std::vector<QPointF> pts;
};

// No run of the path passes through a block or brushes one (its pins, its badge); the first and
// last runs leave and enter their blocks' edges, so for them only the inside counts.
bool clearPath(const std::vector<QPointF>& pts, const ObstacleIndex& obstacles) {
  for (size_t i = 1; i < pts.size(); ++i) {
    const bool end = i == 1 || i + 1 == pts.size();
    if (obstacles.blocks(pts[i - 1], pts[i], end ? 0 : kTouch)) return false;
  }
  return true;
}

// The routes tried from `a` to `b` with the blocks `near` in the way: out of the pin to a column
// x1, along a row y, down a column x2 to the input's row (five runs), or, for a wire going right,
// one column between the two (three runs). The columns and rows run beside the blocks' edges.
std::vector<Candidate> candidates(QPointF a, QPointF b, const std::vector<QRectF>& near,
                                  size_t columns) {
  const QPointF a1(a.x() + kLead, a.y()), b1(b.x() - kLead, b.y());
  std::vector<double> ys{a.y(), b.y()}, x1s{a1.x()}, x2s{b1.x()}, mids;
  if (b1.x() >= a1.x()) mids.push_back((a1.x() + b1.x()) / 2);
  for (const QRectF& r : near) {
    ys.push_back(r.top() - kClear);
    ys.push_back(r.bottom() + kClear);
    for (double x : {r.left() - kClear, r.right() + kClear}) {
      if (x > a1.x()) x1s.push_back(x);
      if (x < b1.x()) x2s.push_back(x);
      if (x > a1.x() && x < b1.x()) mids.push_back(x);
    }
  }
  // The columns nearest the pins first: a route hugs its ends.
  auto nearestFirst = [](std::vector<double>& v, double to, size_t keep) {
    std::sort(v.begin(), v.end(),
              [to](double p, double q) { return std::abs(p - to) < std::abs(q - to); });
    v.erase(std::unique(v.begin(), v.end()), v.end());
    if (v.size() > keep) v.resize(keep);
  };
  nearestFirst(x1s, a1.x(), columns);
  nearestFirst(x2s, b1.x(), columns);
  nearestFirst(mids, (a1.x() + b1.x()) / 2, columns * 6);
  nearestFirst(ys, (a.y() + b.y()) / 2, 120);
  std::vector<Candidate> out;
  for (double x : mids) {
    std::vector<QPointF> pts = simplified({a, {x, a.y()}, {x, b.y()}, b});
    out.push_back({length(pts) + kBendCost * static_cast<double>(pts.size() - 2), pts});
  }
  for (double y : ys)
    for (double x1 : x1s)
      for (double x2 : x2s) {
        std::vector<QPointF> pts = simplified({a, {x1, a.y()}, {x1, y}, {x2, y}, {x2, b.y()}, b});
        out.push_back({length(pts) + kBendCost * static_cast<double>(pts.size() - 2), pts});
      }
  std::sort(out.begin(), out.end(),
            [](const Candidate& p, const Candidate& q) { return p.cost < q.cost; });
  return out;
}

// The cheapest orthogonal path from `a` to `b` (length plus a cost per corner) on the grid of the
// lines beside the blocks' edges inside `region`: the general case, for a wire that needs more
// than two corners to find its way through a crowd. Empty when there is none.
std::vector<QPointF> gridRoute(QPointF a, QPointF b, const QRectF& region,
                               const std::vector<QRectF>& near) {
  const QPointF a1(a.x() + kLead, a.y()), b1(b.x() - kLead, b.y());
  std::vector<QRectF> walls;
  std::vector<double> xs{a1.x(), b1.x(), region.left(), region.right()};
  std::vector<double> ys{a.y(), b.y(), region.top(), region.bottom()};
  for (const QRectF& r : near) {
    const QRectF w = r.adjusted(-kClear, -kClear, kClear, kClear);
    walls.push_back(w);
    xs.insert(xs.end(), {w.left(), w.right()});
    ys.insert(ys.end(), {w.top(), w.bottom()});
  }
  for (auto* v : {&xs, &ys}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  const auto nx = static_cast<int>(xs.size()), ny = static_cast<int>(ys.size());
  // Cell (i, j) lies between columns i, i+1 and rows j, j+1; walls cover whole cells, since every
  // wall edge is a grid line.
  std::vector<char> cell(static_cast<size_t>(nx * ny), 0);
  auto at = [&](const std::vector<double>& v, double x) {
    return static_cast<int>(std::lower_bound(v.begin(), v.end(), x) - v.begin());
  };
  for (const QRectF& w : walls)
    for (int i = at(xs, w.left()); i < at(xs, w.right()); ++i)
      for (int j = at(ys, w.top()); j < at(ys, w.bottom()); ++j) cell[i * ny + j] = 1;
  auto blocked = [&](int i, int j) {
    return i >= 0 && j >= 0 && i < nx - 1 && j < ny - 1 && cell[i * ny + j];
  };
  // State: node index * 2 + direction of arrival (0 along a row, 1 along a column).
  const int start = at(xs, a1.x()) * ny + at(ys, a1.y()),
            goal = at(xs, b1.x()) * ny + at(ys, b1.y());
  std::vector<double> cost(static_cast<size_t>(nx * ny * 2),
                           std::numeric_limits<double>::infinity());
  std::vector<int> from(cost.size(), -1);
  using Item = std::pair<double, int>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> open;
  auto h = [&](int node) {
    return std::abs(xs[node / ny] - b1.x()) + std::abs(ys[node % ny] - b1.y());
  };
  cost[start * 2] = 0;
  open.push({h(start), start * 2});
  int reached = -1;
  while (!open.empty()) {
    const auto [f, state] = open.top();
    open.pop();
    const int node = state / 2, dir = state % 2, i = node / ny, j = node % ny;
    const double g = cost[state];
    if (f > g + h(node) + 1e-9) continue;  // a stale entry
    if (node == goal) {
      reached = state;
      break;
    }
    const int steps[4][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 1}, {0, -1, 1}};
    for (const auto& s : steps) {
      const int ni = i + s[0], nj = j + s[1];
      if (ni < 0 || nj < 0 || ni >= nx || nj >= ny) continue;
      // A run along a grid line is inside a wall when the cells on both its sides are.
      const bool wall = s[2] == 0 ? blocked(std::min(i, ni), j - 1) && blocked(std::min(i, ni), j)
                                  : blocked(i - 1, std::min(j, nj)) && blocked(i, std::min(j, nj));
      if (wall) continue;
      const int next = (ni * ny + nj) * 2 + s[2];
      const double ng =
          g + std::abs(xs[ni] - xs[i]) + std::abs(ys[nj] - ys[j]) + (s[2] != dir ? kBendCost : 0);
      if (ng < cost[next]) {
        cost[next] = ng;
        from[next] = state;
        open.push({ng + h(ni * ny + nj), next});
      }
    }
  }
  if (reached < 0) return {};
  std::vector<QPointF> pts{b};
  for (int s = reached; s >= 0; s = from[s]) pts.emplace_back(xs[s / 2 / ny], ys[s / 2 % ny]);
  pts.push_back(a);
  std::reverse(pts.begin(), pts.end());
  return simplified(pts);
}

}  // namespace

bool segmentEntersRect(QPointF p, QPointF q, const QRectF& rect) {
  // Liang-Barsky against the rectangle shrunk a little, so that a run along an edge or out of a
  // pin on the edge does not count as entering.
  const QRectF r = rect.adjusted(0.5, 0.5, -0.5, -0.5);
  if (r.width() <= 0 || r.height() <= 0) return false;
  const double dx = q.x() - p.x(), dy = q.y() - p.y();
  double t0 = 0, t1 = 1;
  auto clip = [&](double den, double num) {
    if (den == 0) return num > 0;
    const double t = num / den;
    if (den < 0) {
      if (t > t1) return false;
      t0 = std::max(t0, t);
    } else {
      if (t < t0) return false;
      t1 = std::min(t1, t);
    }
    return true;
  };
  return clip(-dx, p.x() - r.left()) && clip(dx, r.right() - p.x()) && clip(-dy, p.y() - r.top()) &&
         clip(dy, r.bottom() - p.y()) && t0 < t1;
}

uint64_t ObstacleIndex::cellKey(int64_t cx, int64_t cy) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(cx)) << 32) | static_cast<uint32_t>(cy);
}

template <typename F>
void ObstacleIndex::forCells(const QRectF& area, F&& f) const {
  const auto x0 = static_cast<int64_t>(std::floor(area.left() / kCell));
  const auto x1 = static_cast<int64_t>(std::floor(area.right() / kCell));
  const auto y0 = static_cast<int64_t>(std::floor(area.top() / kCell));
  const auto y1 = static_cast<int64_t>(std::floor(area.bottom() / kCell));
  for (int64_t cy = y0; cy <= y1; ++cy)
    for (int64_t cx = x0; cx <= x1; ++cx) f(cellKey(cx, cy));
}

void ObstacleIndex::set(const void* key, const QRectF& rect) {
  auto old = rects_.find(key);
  if (old != rects_.end()) {
    forCells(old->second, [&](uint64_t cell) {
      auto it = cells_.find(cell);
      if (it == cells_.end()) return;
      auto& v = it->second;
      v.erase(std::remove_if(v.begin(), v.end(), [key](const Entry& e) { return e.key == key; }),
              v.end());
      if (v.empty()) cells_.erase(it);
    });
    rects_.erase(old);
  }
  if (rect.isEmpty()) return;
  rects_.emplace(key, rect);
  forCells(rect, [&](uint64_t cell) { cells_[cell].push_back({key, rect}); });
}

QRectF ObstacleIndex::rectOf(const void* key) const {
  auto it = rects_.find(key);
  return it == rects_.end() ? QRectF() : it->second;
}

std::vector<QRectF> ObstacleIndex::near(const QRectF& area) const {
  std::vector<const void*> keys;
  forCells(area, [&](uint64_t cell) {
    auto it = cells_.find(cell);
    if (it != cells_.end())
      for (const Entry& e : it->second) keys.push_back(e.key);
  });
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::vector<QRectF> out;
  for (const void* k : keys)
    if (const QRectF& r = rects_.at(k); r.intersects(area)) out.push_back(r);
  return out;
}

bool ObstacleIndex::blocks(QPointF p, QPointF q, double margin) const {
  bool hit = false;
  forCells(QRectF(p, q).normalized().adjusted(-margin, -margin, margin, margin),
           [&](uint64_t cell) {
             if (hit) return;
             auto it = cells_.find(cell);
             if (it == cells_.end()) return;
             for (const Entry& e : it->second)
               if (segmentEntersRect(p, q, e.rect.adjusted(-margin, -margin, margin, margin))) {
                 hit = true;
                 return;
               }
           });
  return hit;
}

std::vector<QPointF> wireCurve(QPointF a, QPointF b, int segments) {
  const double dx = std::max(40.0, std::abs(b.x() - a.x()) * 0.5);
  const QPointF c1 = a + QPointF(dx, 0), c2 = b - QPointF(dx, 0);
  std::vector<QPointF> pts(static_cast<size_t>(segments) + 1);
  for (int i = 0; i <= segments; ++i) {
    const double t = static_cast<double>(i) / segments, u = 1 - t;
    pts[static_cast<size_t>(i)] =
        u * u * u * a + 3 * u * u * t * c1 + 3 * u * t * t * c2 + t * t * t * b;
  }
  return pts;
}

std::vector<QPointF> routeWire(QPointF a, QPointF b, const ObstacleIndex& obstacles, bool* routed) {
  std::vector<QPointF> curve = wireCurve(a, b);
  if (routed) *routed = false;
  if (clearPath(curve, obstacles)) return curve;
  // Look at the blocks in the wire's own box first (most detours go just over or under them,
  // and few blocks make few candidates), then farther out, then search the grid.
  for (double reach : {20.0, 300.0, 1500.0}) {
    const QRectF box = QRectF(a, b).normalized().adjusted(-reach, -reach, reach, reach);
    const std::vector<QRectF> near = obstacles.near(box);
    // The first look tries only the columns beside the pins: a few candidates, checked fast.
    const std::vector<Candidate> tries = candidates(a, b, near, reach < 100 ? 1 : 6);
    for (size_t i = 0; i < tries.size() && i < kMaxTries; ++i) {
      if (!clearPath(tries[i].pts, obstacles)) continue;
      std::vector<QPointF> smooth = rounded(tries[i].pts);
      if (!clearPath(smooth, obstacles)) continue;  // a corner cut into a block beside it
      if (routed) *routed = true;
      return smooth;
    }
    if (reach < 100) continue;
    const std::vector<QPointF> grid = gridRoute(a, b, box, near);
    if (grid.size() >= 2 && clearPath(grid, obstacles)) {
      std::vector<QPointF> smooth = rounded(grid);
      if (routed) *routed = true;
      return clearPath(smooth, obstacles) ? smooth : grid;
    }
  }
  return curve;
}

}  // namespace qs::editor
