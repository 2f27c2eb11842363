#pragma once

// Whether this test binary runs under AddressSanitizer: everything runs several times slower
// there, so tests that bound time or take many steps scale down what they ask.

namespace qs::testing {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

}  // namespace qs::testing
