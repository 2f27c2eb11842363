#pragma once

#include <stdexcept>
#include <string>

namespace qs {

// The one exception type of the runtime and the blocks. Its message is what the user reads, so it
// says what is wrong in the user's terms (TensorFlow's text where docs/spec.md gives one).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown by a block that stopped early because its evaluation was cancelled. The evaluator then
// reports the run as cancelled and keeps nothing of what the block had computed.
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

}  // namespace qs
