#pragma once

#include <compare>
#include <functional>
#include <string>
#include <utility>

namespace qs {

// A string id that cannot be mixed up with another kind of id (after imgui-node-editor's
// SafeType): a BlockId is not a PortName, even though both are strings underneath.
template <typename Tag>
class StrongId {
 public:
  StrongId() = default;
  explicit StrongId(std::string value) : value_(std::move(value)) {}
  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }
  auto operator<=>(const StrongId&) const = default;

 private:
  std::string value_;
};

struct BlockIdTag {};
struct PortNameTag {};
using BlockId = StrongId<BlockIdTag>;
using PortName = StrongId<PortNameTag>;

}  // namespace qs

template <typename Tag>
struct std::hash<qs::StrongId<Tag>> {
  size_t operator()(const qs::StrongId<Tag>& id) const noexcept {
    return std::hash<std::string>{}(id.str());
  }
};
