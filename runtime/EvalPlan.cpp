#include "runtime/EvalPlan.h"

#include <algorithm>
#include <map>

#include "runtime/Error.h"

namespace qs {

std::optional<ResultRef> parseResultName(std::string_view name) {
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string block(name.substr(0, dot));
  std::string_view rest = name.substr(dot + 1);
  constexpr std::string_view prefix = "result_";
  if (!isValidBlockId(block) || rest.substr(0, prefix.size()) != prefix ||
      rest.size() == prefix.size())
    return std::nullopt;
  return ResultRef{BlockId(block), std::string(rest.substr(prefix.size()))};
}

namespace {

// Marks the fetched blocks and everything they read from, directly or not.
void markNeeded(const Page& page, const BlockRegistry& registry,
                const std::vector<std::string>& fetch, bool step, EvalPlan& plan) {
  const int n = static_cast<int>(page.blockCount());
  plan.needed.assign(n, fetch.empty() ? 1 : 0);
  plan.fetched.assign(n, 0);
  std::vector<int> stack;
  // A step applies every update on the page, fetched or not, and holds every Variable (a Variable
  // nothing fetched reads would otherwise be missing from the saved state).
  if (step && !fetch.empty())
    for (int i = 0; i < n; ++i) {
      const BlockDescriptor* d = registry.find(page.blocks()[i].type);
      if (d && (d->variable || !d->stateSlots.empty())) {
        plan.needed[i] = 1;
        stack.push_back(i);
      }
    }
  for (const std::string& name : fetch) {
    auto ref = parseResultName(name);
    if (!ref) throw Error("'" + name + "' is not a result name (expected BLOCK.result_PORT)");
    const int i = page.indexOf(ref->block);
    if (i < 0)
      throw Error("no block '" + ref->block.str() + "' on the page (asked for " + name + ")");
    // A block of unknown type is planned anyway: it fails with that message when it runs.
    if (const BlockDescriptor* d = registry.find(page.blocks()[i].type)) {
      const PortDescriptor* p = d->findPort(ref->port, PortDirection::Output);
      if (!p || p->kind != PortKind::Tensor)
        throw Error("block '" + ref->block.str() + "' (" + d->type + ") has no result '" +
                    resultName(ref->port) + "'");
    }
    plan.fetched[i] = 1;
    if (!plan.needed[i]) stack.push_back(i);
    plan.needed[i] = 1;
  }
  while (!stack.empty()) {
    const int b = stack.back();
    stack.pop_back();
    for (int li : page.incomingLinks(b)) {
      const int a = page.linkFrom(li);
      if (!plan.needed[a]) {
        plan.needed[a] = 1;
        stack.push_back(a);
      }
    }
  }
}

// Kahn's algorithm over the needed blocks. The blocks ready at the start are taken in page order;
// a block made ready by the one just ordered is taken next (depth first, so that a chain's
// intermediate results can be freed early). Returns each block's count of inputs from blocks not
// ordered: above zero only for blocks on or below a cycle.
std::vector<int> orderAcyclic(const Page& page, EvalPlan& plan) {
  const int n = static_cast<int>(page.blockCount());
  std::vector<int> indegree(n, 0);
  plan.order.reserve(n);
  for (int b = 0; b < n; ++b)
    if (plan.needed[b]) indegree[b] = static_cast<int>(page.incomingLinks(b).size());
  std::vector<int> ready;
  for (int b = n - 1; b >= 0; --b)
    if (plan.needed[b] && indegree[b] == 0) ready.push_back(b);
  while (!ready.empty()) {
    const int b = ready.back();
    ready.pop_back();
    plan.order.push_back(b);
    const auto& out = page.outgoingLinks(b);
    for (auto it = out.rbegin(); it != out.rend(); ++it) {
      const int c = page.linkTo(*it);
      if (plan.needed[c] && --indegree[c] == 0) ready.push_back(c);
    }
  }
  return indegree;
}

// Strongly connected components of the sub-graph `members` (Tarjan, iterative so that a deep page
// cannot overflow the stack). Returns the component index of each member.
std::vector<int> components(const Page& page, const std::vector<int>& members,
                            const std::vector<char>& inSet) {
  const int n = static_cast<int>(page.blockCount());
  std::vector<int> index(n, -1), low(n, 0), comp(n, -1);
  std::vector<char> onStack(n, 0);
  std::vector<int> stack;
  int counter = 0, compCount = 0;
  struct Frame {
    int v;
    size_t next;
  };
  for (int root : members) {
    if (index[root] >= 0) continue;
    std::vector<Frame> frames{{root, 0}};
    index[root] = low[root] = counter++;
    stack.push_back(root);
    onStack[root] = 1;
    while (!frames.empty()) {
      Frame& f = frames.back();
      const auto& out = page.outgoingLinks(f.v);
      if (f.next < out.size()) {
        int w = page.linkTo(out[f.next++]);
        if (!inSet[w]) continue;
        if (index[w] < 0) {
          index[w] = low[w] = counter++;
          stack.push_back(w);
          onStack[w] = 1;
          frames.push_back({w, 0});
        } else if (onStack[w]) {
          low[f.v] = std::min(low[f.v], index[w]);
        }
      } else {
        int v = f.v;
        if (low[v] == index[v]) {
          int w;
          do {
            w = stack.back();
            stack.pop_back();
            onStack[w] = 0;
            comp[w] = compCount;
          } while (w != v);
          ++compCount;
        }
        frames.pop_back();
        if (!frames.empty()) low[frames.back().v] = std::min(low[frames.back().v], low[v]);
      }
    }
  }
  return comp;
}

// "a -> b -> c -> a": the shortest cycle through `start` inside its strongly connected component
// (breadth-first, so the message names a real path, not just the members).
std::string cyclePath(const Page& page, int start, const std::vector<int>& comp) {
  const int n = static_cast<int>(page.blockCount());
  std::vector<int> parent(n, -2);
  std::vector<int> queue{start};
  int last = -1;
  for (size_t q = 0; q < queue.size() && last < 0; ++q) {
    const int v = queue[q];
    for (int li : page.outgoingLinks(v)) {
      const int w = page.linkTo(li);
      if (comp[w] != comp[start]) continue;
      if (w == start) {
        last = v;
        break;
      }
      if (parent[w] == -2) {
        parent[w] = v;
        queue.push_back(w);
      }
    }
  }
  std::vector<int> path;
  for (int v = last; v >= 0 && v != start; v = parent[v]) path.push_back(v);
  path.push_back(start);
  std::reverse(path.begin(), path.end());
  std::string names;
  const size_t shown = std::min<size_t>(path.size(), 8);
  for (size_t k = 0; k < shown; ++k) names += (k ? " -> " : "") + page.blocks()[path[k]].id.str();
  if (path.size() > shown) names += " -> ... (" + std::to_string(path.size()) + " blocks)";
  return names + " -> " + page.blocks()[start].id.str();
}

// The blocks Kahn left over (`leftover`, in page order) sit on a cycle or below one. Names each
// cycle on its blocks and appends them to the order, then the blocks below, ordered among
// themselves (with the cycles taken out they form a DAG).
void orderCyclic(const Page& page, const std::vector<int>& members,
                 const std::vector<char>& leftover, EvalPlan& plan) {
  const int n = static_cast<int>(page.blockCount());
  plan.cycleErrors.resize(n);
  std::vector<int> comp = components(page, members, leftover);
  std::map<int, std::vector<int>> byComp;
  for (int b : members) byComp[comp[b]].push_back(b);
  for (auto& [c, bs] : byComp) {
    bool cyclic = bs.size() > 1;
    if (!cyclic)
      for (int li : page.outgoingLinks(bs[0])) cyclic |= page.linkTo(li) == bs[0];
    if (!cyclic) continue;
    const std::string names = cyclePath(page, bs[0], comp);
    for (int b : bs) plan.cycleErrors[b] = "is part of a cycle: " + names;
  }
  auto below = [&](int b) { return leftover[b] && plan.cycleErrors[b].empty(); };
  std::vector<int> rest;
  for (int b : members)
    if (below(b))
      rest.push_back(b);
    else
      plan.order.push_back(b);
  std::vector<int> restIndegree(n, 0);
  for (int b : rest)
    for (int li : page.incomingLinks(b)) restIndegree[b] += below(page.linkFrom(li));
  std::vector<int> ready;
  for (auto it = rest.rbegin(); it != rest.rend(); ++it)
    if (restIndegree[*it] == 0) ready.push_back(*it);
  while (!ready.empty()) {
    const int b = ready.back();
    ready.pop_back();
    plan.order.push_back(b);
    for (int li : page.outgoingLinks(b)) {
      const int c = page.linkTo(li);
      if (below(c) && --restIndegree[c] == 0) ready.push_back(c);
    }
  }
}

// After each block's turn, the blocks whose last needed reader it was.
void planReleases(const Page& page, EvalPlan& plan) {
  const int n = static_cast<int>(page.blockCount());
  std::vector<int> readers(n, 0);
  for (int b : plan.order)
    for (int li : page.incomingLinks(b)) ++readers[page.linkFrom(li)];
  plan.releaseStart.assign(1, 0);
  plan.releaseStart.reserve(plan.order.size() + 1);
  for (int b : plan.order) {
    for (int li : page.incomingLinks(b)) {
      const int a = page.linkFrom(li);
      if (--readers[a] == 0 && !plan.fetched[a]) plan.releaseList.push_back(a);
    }
    plan.releaseStart.push_back(static_cast<int>(plan.releaseList.size()));
  }
}

// A block that reads the results of everything above its inputs (the Gradients block) would see
// them released.
bool readsUpstream(const Page& page, const BlockRegistry& registry, const EvalPlan& plan) {
  for (size_t i = 0; i < page.blockCount(); ++i)
    if (plan.needed[i])
      if (const BlockDescriptor* d = registry.find(page.blocks()[i].type); d && d->readsUpstream)
        return true;
  return false;
}

}  // namespace

EvalPlan planEvaluation(const Page& page, const BlockRegistry& registry,
                        const std::vector<std::string>& fetch, bool releases, bool step) {
  EvalPlan plan;
  markNeeded(page, registry, fetch, step, plan);
  const std::vector<int> indegree = orderAcyclic(page, plan);
  const auto neededCount = std::count(plan.needed.begin(), plan.needed.end(), 1);
  if (static_cast<long>(plan.order.size()) < neededCount) {
    const int n = static_cast<int>(page.blockCount());
    std::vector<char> leftover(n, 0);
    std::vector<int> members;
    for (int b = 0; b < n; ++b)
      if (plan.needed[b] && indegree[b] > 0) {
        leftover[b] = 1;
        members.push_back(b);
      }
    orderCyclic(page, members, leftover, plan);
  }
  if (releases && !readsUpstream(page, registry, plan)) planReleases(page, plan);
  return plan;
}

}  // namespace qs
