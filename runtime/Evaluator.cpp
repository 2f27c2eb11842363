#include "runtime/Evaluator.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <new>
#include <set>

#include "runtime/AttrJson.h"
#include "runtime/Error.h"

namespace qs {

std::string statusName(BlockStatus s) {
  switch (s) {
    case BlockStatus::Stale:
      return "stale";
    case BlockStatus::Running:
      return "running";
    case BlockStatus::Ok:
      return "ok";
    case BlockStatus::Error:
      return "error";
  }
  return "?";
}

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

std::string errorLine(const BlockId& id, const std::string& type, const std::string& message) {
  return "error: block '" + id.str() + "' (" + type + "): " + message;
}

Evaluator::Evaluator(const BlockRegistry& registry) : registry_(registry) {}
Evaluator::~Evaluator() = default;

const Evaluator::PortLists& Evaluator::portsOf(const BlockDescriptor& desc) {
  auto [it, fresh] = portCache_.try_emplace(&desc);
  if (fresh) it->second = PortLists{desc.inputs(), desc.outputs()};
  return it->second;
}

ThreadPool* Evaluator::poolFor(int threads) {
  if (threads <= 0) threads = ThreadPool::hardwareThreads();
  if (!pool_ || pool_->size() != threads) pool_ = std::make_unique<ThreadPool>(threads);
  return pool_.get();
}

const BlockState* Evaluator::state(const BlockId& id) const {
  auto it = states_.find(id);
  return it == states_.end() ? nullptr : &it->second;
}

std::optional<Tensor> Evaluator::result(std::string_view name) const {
  auto ref = parseResultName(name);
  if (!ref)
    throw Error("'" + std::string(name) + "' is not a result name (expected BLOCK.result_PORT)");
  const BlockState* s = state(ref->block);
  if (!s || s->status != BlockStatus::Ok) return std::nullopt;
  auto it = s->outputs.find(ref->port);
  if (it == s->outputs.end()) return std::nullopt;
  return it->second;
}

void Evaluator::setFeed(const BlockId& id, Tensor value) {
  feeds_[id] = Feed{std::move(value), nextStamp_++, {}};
}

void Evaluator::setFeedError(const BlockId& id, std::string message) {
  feeds_[id] = Feed{Tensor(), nextStamp_++, std::move(message)};
}

void Evaluator::clearFeed(const BlockId& id) {
  feeds_.erase(id);
}

void Evaluator::clear() {
  states_.clear();
}

namespace {

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
        int w = page.indexOf(page.links()[out[f.next++]].to.block);
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
      const int w = page.indexOf(page.links()[li].to.block);
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

// The descriptor's rank rules, after the block's own check() (which gives TensorFlow's messages
// in TensorFlow's order) has passed.
void checkRanks(const std::vector<const PortDescriptor*>& inputs, const BlockContext& ctx) {
  for (const PortDescriptor* in : inputs)
    if (ctx.hasInput(in->name) &&
        !in->rank.accepts(static_cast<int>(ctx.inputShape(in->name).size())))
      throw Error("input '" + in->name + "' must be " + in->rank.describe() + " but is rank " +
                  std::to_string(ctx.inputShape(in->name).size()));
}

}  // namespace

EvalReport Evaluator::evaluate(const Page& page, const EvalOptions& options) {
  return run(page, options, Mode::Compute);
}

std::vector<BlockId> Evaluator::check(const Page& page, const std::filesystem::path& pageDir) {
  EvalOptions options;
  options.pageDir = pageDir;
  return run(page, options, Mode::Check).failed;
}

EvalReport Evaluator::run(const Page& page, const EvalOptions& options, Mode mode) {
  EvalReport report;
  const int n = static_cast<int>(page.blockCount());
  // Results of blocks deleted from the page would otherwise stay in memory for the whole session.
  std::erase_if(states_, [&](const auto& kv) { return !page.contains(kv.first); });
  // Swept only when it has grown well past the page, so that a run does not pay a look-up per
  // block for it.
  if (attrCache_.size() > 2 * page.blockCount() + 64)
    std::erase_if(attrCache_, [&](const auto& kv) { return !page.contains(kv.first); });
  const auto& blocks = page.blocks();
  const auto& links = page.links();

  // Each block's descriptor, looked up once per run (nullptr: unknown type).
  std::vector<const BlockDescriptor*> descs(n);
  for (int b = 0; b < n; ++b) descs[b] = registry_.find(blocks[b].type);
  // Each block's state, fetched once (created when the block's turn comes; unordered_map nodes do
  // not move, so the pointers stay valid while blocks are added).
  std::vector<BlockState*> statePtrs(n, nullptr);
  auto stateOf = [&](int b) -> BlockState& {
    if (!statePtrs[b]) statePtrs[b] = &states_[blocks[b].id];
    return *statePtrs[b];
  };

  // Which blocks are needed, and which outputs were asked for.
  std::vector<char> needed(n, options.fetch.empty() ? 1 : 0);
  std::vector<char> fetched(n, 0);
  for (const std::string& name : options.fetch) {
    auto ref = parseResultName(name);
    if (!ref) throw Error("'" + name + "' is not a result name (expected BLOCK.result_PORT)");
    const int i = page.indexOf(ref->block);
    if (i < 0)
      throw Error("no block '" + ref->block.str() + "' on the page (asked for " + name + ")");
    if (const BlockDescriptor* d = descs[i]) {
      const PortDescriptor* p = d->findPort(ref->port);
      if (!p || p->direction != PortDirection::Output || p->kind != PortKind::Tensor)
        throw Error("block '" + ref->block.str() + "' (" + d->type + ") has no result '" +
                    resultName(ref->port) + "'");
    }
    fetched[i] = 1;
    needed[i] = 1;
  }
  if (!options.fetch.empty()) {
    std::vector<int> stack;
    for (int i = 0; i < n; ++i)
      if (needed[i]) stack.push_back(i);
    while (!stack.empty()) {
      int b = stack.back();
      stack.pop_back();
      for (int li : page.incomingLinks(b)) {
        int a = page.indexOf(links[li].from.block);
        if (!needed[a]) {
          needed[a] = 1;
          stack.push_back(a);
        }
      }
    }
  }

  // Topological order of the needed blocks (Kahn), in page order among equals.
  std::vector<int> indegree(n, 0), order, remainingConsumers(n, 0);
  order.reserve(n);
  for (int b = 0; b < n; ++b) {
    if (!needed[b]) continue;
    indegree[b] = static_cast<int>(page.incomingLinks(b).size());
    remainingConsumers[b] = static_cast<int>(page.outgoingLinks(b).size());
  }
  if (!options.fetch.empty()) {
    // Consumers that are not needed do not hold a result alive.
    for (int b = 0; b < n; ++b) {
      if (!needed[b]) continue;
      int c = 0;
      for (int li : page.outgoingLinks(b)) c += needed[page.indexOf(links[li].to.block)];
      remainingConsumers[b] = c;
    }
  }
  std::vector<int> ready;
  for (int b = n - 1; b >= 0; --b)
    if (needed[b] && indegree[b] == 0) ready.push_back(b);
  while (!ready.empty()) {
    int b = ready.back();
    ready.pop_back();
    order.push_back(b);
    const auto& out = page.outgoingLinks(b);
    for (auto it = out.rbegin(); it != out.rend(); ++it) {
      int c = page.indexOf(links[*it].to.block);
      if (--indegree[c] == 0) ready.push_back(c);
    }
  }

  // Blocks left over sit on a cycle or below one.
  // Sized only when there are cycles: most pages have none.
  std::vector<std::string> cycleError;
  if (static_cast<int>(order.size()) < std::count(needed.begin(), needed.end(), 1)) {
    cycleError.resize(n);
    std::vector<char> leftover(n, 0);
    std::vector<int> members;
    for (int b = 0; b < n; ++b)
      if (needed[b] && indegree[b] > 0) {
        leftover[b] = 1;
        members.push_back(b);
      }
    std::vector<int> comp = components(page, members, leftover);
    std::map<int, std::vector<int>> byComp;
    for (int b : members) byComp[comp[b]].push_back(b);
    for (auto& [c, bs] : byComp) {
      bool cyclic = bs.size() > 1;
      if (!cyclic)
        for (int li : page.outgoingLinks(bs[0]))
          cyclic |= page.indexOf(links[li].to.block) == bs[0];
      if (!cyclic) continue;
      const std::string names = cyclePath(page, bs[0], comp);
      for (int b : bs) cycleError[b] = "is part of a cycle: " + names;
    }
    // Leftover blocks not on a cycle are reached from one: run them after the cycle's blocks (they
    // will fail on their failed input). With the cycles taken out they form a DAG: order it with
    // Kahn again, counting only links from other such blocks.
    std::vector<int> rest;
    for (int b : members)
      if (cycleError[b].empty())
        rest.push_back(b);
      else
        order.push_back(b);
    std::vector<int> restIndegree(n, 0);
    for (int b : rest)
      for (int li : page.incomingLinks(b)) {
        const int a = page.indexOf(links[li].from.block);
        restIndegree[b] += leftover[a] && cycleError[a].empty();
      }
    std::vector<int> restReady;
    for (auto it = rest.rbegin(); it != rest.rend(); ++it)
      if (restIndegree[*it] == 0) restReady.push_back(*it);
    while (!restReady.empty()) {
      const int b = restReady.back();
      restReady.pop_back();
      order.push_back(b);
      for (int li : page.outgoingLinks(b)) {
        const int c = page.indexOf(links[li].to.block);
        if (leftover[c] && cycleError[c].empty() && --restIndegree[c] == 0) restReady.push_back(c);
      }
    }
  }

  ThreadPool* pool = nullptr;

  // Frees an upstream block's outputs once its last consumer has run (or failed), unless they
  // were fetched. Runs however the block's turn ends.
  struct ReleaseInputs {
    std::function<void()> fn;
    ~ReleaseInputs() {
      if (fn) fn();
    }
  };

  for (int b : order) {
    const Block& block = blocks[b];
    BlockState& st = stateOf(b);
    ReleaseInputs release;
    if (options.releaseIntermediates)
      release.fn = [&, b] {
        for (int li : page.incomingLinks(b)) {
          const int a = page.indexOf(links[li].from.block);
          if (--remainingConsumers[a] == 0 && !fetched[a]) {
            BlockState& as = stateOf(a);
            as.outputs.clear();
            as.released = true;
          }
        }
      };
    if (options.cancel && options.cancel->load()) {
      report.cancelled = true;
      break;
    }
    st.type = block.type;
    auto fail = [&](const std::string& message) {
      st.status = BlockStatus::Error;
      st.error = message;
      st.outputs.clear();
      st.outputShapes.clear();
      st.stamp = nextStamp_++;
      report.failed.push_back(block.id);
      if (options.onBlockFinished) options.onBlockFinished(block.id, st);
    };
    if (!cycleError.empty() && !cycleError[b].empty()) {
      fail(cycleError[b]);
      continue;
    }
    const BlockDescriptor* desc = descs[b];
    if (!desc) {
      fail("unknown block type '" + block.type + "'");
      continue;
    }
    // Attributes are resolved again only when the block changed (its revision is unique across
    // the process and changes with its type and attributes).
    auto [ac, fresh] = attrCache_.try_emplace(block.id);
    ResolvedAttrs& resolved = ac->second;
    if (fresh || resolved.revision != block.revision) {
      resolved.revision = block.revision;
      resolved.error.clear();
      try {
        resolved.values = resolveAttrs(*desc, block.attrs);
      } catch (const std::exception& e) {
        resolved.values = AttrValues();
        resolved.error = e.what();
        if (resolved.error.empty()) resolved.error = "invalid attributes";
      }
    }
    if (!resolved.error.empty()) {
      fail(resolved.error);
      continue;
    }
    const AttrValues& attrs = resolved.values;
    const PortLists& ports = portsOf(*desc);

    // Wiring: every link into this block must land on a tensor input, once, from a real output.
    BlockContext ctx(*desc, block.id.str(), attrs);
    struct Upstream {
      const std::string* port;
      const Link* link;
      const BlockState* state;
    };
    std::vector<Upstream> upstream;  // the inputs wired so far (a block has a handful)
    auto wiredTo = [&](const std::string& port) -> const Upstream* {
      for (const Upstream& u : upstream)
        if (*u.port == port) return &u;
      return nullptr;
    };
    std::string wiringError;
    for (int li : page.incomingLinks(b)) {
      const Link& l = links[li];
      const std::string& port = l.to.port.str();
      // The wire's description is only needed for a message.
      auto src = [&] { return l.from.block.str() + "." + l.from.port.str(); };
      const PortDescriptor* p = desc->findPort(port);
      if (!p) {
        std::string names;
        for (auto* in : ports.inputs) names += (names.empty() ? "" : ", ") + in->name;
        wiringError = "has no input '" + port + "' (wired from " + src() +
                      "; inputs are: " + (names.empty() ? "none" : names) + ")";
      } else if (p->direction == PortDirection::Output) {
        wiringError =
            "'" + port + "' is an output; the wire from " + src() + " must go to an input";
      } else if (p->kind == PortKind::Scope) {
        wiringError =
            "the scope pin is bound to the page and cannot be wired (wire from " + src() + ")";
      } else if (p->kind == PortKind::Attrs) {
        wiringError =
            "the attrs pin cannot be wired yet; set the attributes on the block (wire from " +
            src() + ")";
      } else if (const Upstream* twice = wiredTo(port)) {
        wiringError = "input '" + port + "' is wired twice (from " + twice->link->from.block.str() +
                      "." + twice->link->from.port.str() + " and " + src() + ")";
      } else {
        const int fromIndex = page.indexOf(l.from.block);
        const Block& from = blocks[fromIndex];
        const BlockDescriptor* fromDesc = descs[fromIndex];
        const PortDescriptor* fp = fromDesc ? fromDesc->findPort(l.from.port.str()) : nullptr;
        if (fromDesc &&
            (!fp || fp->direction != PortDirection::Output || fp->kind != PortKind::Tensor)) {
          wiringError = "input '" + port + "' is wired to " + src() + ", but " + from.type +
                        " has no output '" + l.from.port.str() + "'";
        } else {
          const BlockState& us = stateOf(fromIndex);
          upstream.push_back({&port, &l, &us});
          const bool usable = us.status == BlockStatus::Ok ||
                              (mode == Mode::Check && us.status == BlockStatus::Stale);
          if (!usable || !us.outputShapes.count(l.from.port.str()))
            wiringError = "input '" + port + "' comes from block '" + l.from.block.str() +
                          "', which " +
                          (us.status == BlockStatus::Error ? "failed" : "has no result");
        }
      }
      if (!wiringError.empty()) break;
    }
    if (wiringError.empty())
      for (const PortDescriptor* in : ports.inputs)
        if (in->required && !wiredTo(in->name)) {
          wiringError = "input '" + in->name + "' is not wired";
          break;
        }
    if (!wiringError.empty()) {
      fail(wiringError);
      continue;
    }

    // Cache: same revision, same inputs, same feed -> the results still hold.
    std::vector<uint64_t> inputStamps;
    inputStamps.reserve(ports.inputs.size());
    for (const PortDescriptor* in : ports.inputs) {
      const Upstream* u = wiredTo(in->name);
      inputStamps.push_back(u ? u->state->stamp : 0);
    }
    const Tensor* feed = nullptr;
    uint64_t feedStamp = 0;
    if (auto f = feeds_.find(block.id); f != feeds_.end()) {
      if (!desc->feedable) {
        fail("cannot be fed: only Const and Placeholder blocks take a fed value");
        continue;
      }
      if (!f->second.error.empty()) {
        fail(f->second.error);
        continue;
      }
      feed = &f->second.value;
      feedStamp = f->second.stamp;
    }
    bool upstreamOk = true;
    for (const Upstream& u : upstream) upstreamOk &= u.state->status == BlockStatus::Ok;
    if (st.status == BlockStatus::Ok && !st.released && st.revision == block.revision &&
        st.inputStamps == inputStamps && st.feedStamp == feedStamp && upstreamOk) {
      report.reused.push_back(block.id);
    } else if (mode == Mode::Check) {
      for (const Upstream& u : upstream)
        ctx.setInputShape(*u.port, u.state->outputShapes.at(u.link->from.port.str()));
      ctx.setFeed(feed);
      ctx.setPageDir(options.pageDir);
      std::string error;
      try {
        desc->check(ctx);
        checkRanks(ports.inputs, ctx);
      } catch (const Error& e) {
        error = e.what();
      } catch (const std::exception& e) {
        error = std::string("internal error: ") + e.what();
      }
      if (!error.empty()) {
        fail(error);
        continue;
      }
      st.status = BlockStatus::Stale;
      st.error.clear();
      st.outputs.clear();
      st.outputShapes = ctx.outputShapes();
    } else {
      if (options.onBlockStarted) {
        st.status = BlockStatus::Running;
        options.onBlockStarted(block.id, st);
      }
      for (const Upstream& u : upstream)
        ctx.setInput(*u.port, u.state->outputs.at(u.link->from.port.str()));
      ctx.setFeed(feed);
      ctx.setPageDir(options.pageDir);
      if (!pool)
        pool = poolFor(options.threads > 0 ? options.threads
                       : page.scope        ? page.scope->threads
                                           : 0);
      ctx.setThreads(pool->size(), pool);
      ctx.setCancelFlag(options.cancel);
      const auto t0 = std::chrono::steady_clock::now();
      std::string error;
      try {
        desc->check(ctx);
        checkRanks(ports.inputs, ctx);
        // compute() reads the checked shapes (Const, random blocks), so this is a copy.
        const std::map<std::string, Shape> checked = ctx.outputShapes();
        ctx.beginCompute();
        desc->compute(ctx);
        for (const PortDescriptor* out : ports.outputs) {
          auto it = ctx.outputs().find(out->name);
          if (it == ctx.outputs().end())
            throw Error("internal error: the kernel did not produce output '" + out->name + "'");
          auto c = checked.find(out->name);
          if (c != checked.end() && c->second != it->second.shape())
            throw Error("internal error: output '" + out->name + "' has shape " +
                        shapeToString(it->second.shape()) + " but check() said " +
                        shapeToString(c->second));
        }
      } catch (const Error& e) {
        error = e.what();
      } catch (const std::bad_alloc&) {
        error = "out of memory";
      } catch (const std::exception& e) {
        error = std::string("internal error: ") + e.what();
      }
      if (options.cancel && options.cancel->load() && !error.empty()) {
        report.cancelled = true;
        st.status = BlockStatus::Stale;
        break;
      }
      if (!error.empty()) {
        fail(error);
        continue;
      }
      st.milliseconds =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      st.status = BlockStatus::Ok;
      st.error.clear();
      st.outputs = std::move(ctx.outputs());
      st.outputShapes.clear();
      for (const auto& [p, t] : st.outputs) st.outputShapes[p] = t.shape();
      st.released = false;
      st.revision = block.revision;
      st.inputStamps = std::move(inputStamps);
      st.feedStamp = feedStamp;
      st.stamp = nextStamp_++;
      report.computed.push_back(block.id);
      if (options.onBlockFinished) options.onBlockFinished(block.id, st);
    }
  }
  return report;
}

}  // namespace qs
