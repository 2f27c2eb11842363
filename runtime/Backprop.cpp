#include "runtime/Backprop.h"

#include <vector>

#include "runtime/Error.h"
#include "runtime/Gradient.h"

namespace qs {

namespace {

// Blocks reached by following links downstream from the output `from`.
std::vector<char> downstreamOf(const Page& page, const OutputRef& from) {
  std::vector<char> seen(page.blockCount(), 0);
  std::vector<int> stack;
  auto visit = [&](int b, const std::string* port) {
    for (int li : page.outgoingLinks(b)) {
      const Link& l = page.links()[li];
      if (port && l.from.port.str() != *port) continue;
      const int to = page.linkTo(li);
      if (!seen[to]) {
        seen[to] = 1;
        stack.push_back(to);
      }
    }
  };
  visit(from.block, &from.port);
  while (!stack.empty()) {
    const int b = stack.back();
    stack.pop_back();
    visit(b, nullptr);
  }
  return seen;
}

// `block` and every block it reads from, directly or not.
std::vector<char> upstreamOf(const Page& page, int block) {
  std::vector<char> seen(page.blockCount(), 0);
  std::vector<int> stack{block};
  seen[block] = 1;
  while (!stack.empty()) {
    const int b = stack.back();
    stack.pop_back();
    for (int li : page.incomingLinks(b)) {
      const int from = page.linkFrom(li);
      if (!seen[from]) {
        seen[from] = 1;
        stack.push_back(from);
      }
    }
  }
  return seen;
}

// Gradients meeting at one output are summed (a new tensor: either may be shared).
void accumulate(std::map<std::string, Tensor>& grads, const std::string& port, Tensor g) {
  auto [it, fresh] = grads.try_emplace(port, g);
  if (fresh) return;
  Tensor sum = Tensor::uninitialized(g.shape());
  const float* a = it->second.data();
  const float* b = g.data();
  float* s = sum.mutableData();
  for (int64_t i = 0; i < sum.size(); ++i) s[i] = a[i] + b[i];
  it->second = std::move(sum);
}

std::string blockName(const BackpropRequest& r, int b) {
  return "block '" + r.page->blocks()[b].id.str() + "' (" + r.page->blocks()[b].type + ")";
}

// Gradients are float32: the first tensor on the path from x to ys of another dtype (a path can
// only reach one through a block that converts, such as Cast), named with the blocks it joins.
std::string nonFloatOnPath(const BackpropRequest& r, const OutputRef& x,
                           const std::vector<char>& path, const std::vector<char>& above) {
  const Page& page = *r.page;
  for (int b : r.order) {
    if (!path[b] || !above[b]) continue;
    for (int li : page.incomingLinks(b)) {
      const Link& l = page.links()[li];
      const int from = page.linkFrom(li);
      const std::string& port = l.from.port.str();
      if (!path[from] && !(from == x.block && port == x.port)) continue;
      const DType dtype = r.outputs(from).at(port).dtype();
      if (dtype != DType::Float32)
        return std::string("the ") + dtypeName(dtype) + " tensor from output '" + port + "' of " +
               blockName(r, from) + " into " + blockName(r, b) +
               " is on the path from xs to ys; gradients pass through float32 tensors only";
    }
  }
  return {};
}

// Runs block b's gradient and passes what it gives on to the outputs its inputs come from.
void stepBack(const BackpropRequest& r, int b, const std::vector<char>& onPath,
              std::vector<std::map<std::string, Tensor>>& grads) {
  const Page& page = *r.page;
  GradientCall call;
  call.pool = r.pool;
  call.cancel = r.cancel;
  call.outputs = r.outputs(b);
  call.outputGrads = std::move(grads[b]);
  for (int li : page.incomingLinks(b)) {
    const Link& l = page.links()[li];
    const int from = page.linkFrom(li);
    call.inputs[l.to.port.str()] = r.outputs(from).at(l.from.port.str());
    bool wanted = onPath[from];
    for (const OutputRef& x : r.xs) wanted |= from == x.block && l.from.port.str() == x.port;
    if (wanted) call.wanted.insert(l.to.port.str());
  }
  std::map<std::string, Tensor> inputGrads;
  try {
    inputGrads = runGradient(*r.descs[b], page.blocks()[b].id.str(), r.attrs(b), std::move(call));
  } catch (const Cancelled&) {
    throw;
  } catch (const Error& e) {
    throw Error("the gradient of " + blockName(r, b) + " failed: " + e.what());
  }
  for (int li : page.incomingLinks(b)) {
    const Link& l = page.links()[li];
    auto g = inputGrads.find(l.to.port.str());
    if (g != inputGrads.end())
      accumulate(grads[page.linkFrom(li)], l.from.port.str(), std::move(g->second));
  }
}

}  // namespace

std::vector<BackpropResult> backprop(const BackpropRequest& r) {
  const Page& page = *r.page;
  const Tensor& y = r.outputs(r.ys.block).at(r.ys.port);
  const Tensor seed = r.gradYs ? *r.gradYs : Tensor::filled(y.shape(), 1.0f);
  const std::vector<char> above = upstreamOf(page, r.ys.block);
  std::vector<BackpropResult> results(r.xs.size());
  std::vector<char> onPath(page.blockCount(), 0);  // the union of the paths still to go back
  std::vector<size_t> pending;                     // the xs those paths start from
  for (size_t i = 0; i < r.xs.size(); ++i) {
    const OutputRef& x = r.xs[i];
    if (x == r.ys) {
      results[i].grad = seed;
      continue;
    }
    std::vector<char> path = downstreamOf(page, x);
    if (!path[r.ys.block]) {
      results[i].grad = Tensor::zeros(r.outputs(x.block).at(x.port).shape());
      continue;
    }
    for (int b : r.order)
      if (path[b] && above[b] && !r.descs[b]->gradient && results[i].error.empty())
        results[i].error = blockName(r, b) +
                           " is on the path from xs to ys and has no gradient, so no gradient can "
                           "pass through it";
    if (results[i].error.empty()) results[i].error = nonFloatOnPath(r, x, path, above);
    if (!results[i].error.empty()) continue;
    for (size_t b = 0; b < path.size(); ++b) onPath[b] |= path[b] && above[b];
    pending.push_back(i);
  }
  if (pending.empty()) return results;
  std::vector<std::map<std::string, Tensor>> grads(page.blockCount());
  grads[r.ys.block][r.ys.port] = seed;
  for (size_t k = r.order.size(); k-- > 0;) {
    const int b = r.order[k];
    if (!onPath[b] || grads[b].empty()) continue;
    if (r.cancel && r.cancel->load(std::memory_order_relaxed)) throw Cancelled();
    stepBack(r, b, onPath, grads);
  }
  for (size_t i : pending) {
    const OutputRef& x = r.xs[i];
    auto g = grads[x.block].find(x.port);
    results[i].grad = g == grads[x.block].end()
                          ? Tensor::zeros(r.outputs(x.block).at(x.port).shape())
                          : g->second;
  }
  return results;
}

}  // namespace qs
