#pragma once
// SAMSA_ASSERT guards invariants of samsa's own code. It is always on (also in
// release builds): a failed assertion is a bug in samsa, reported with the seed
// and the command that replays it, and the process exits with code 4.
#include <string>
#include <string_view>

namespace samsa {

// Thrown by a failed SAMSA_ASSERT. The world stops the run and reports it;
// nothing in system code catches it.
struct InternalError {
  std::string message;
};

// What to print next to a failed assertion (e.g. "seed 7: samsa replay ...").
// Per thread, because several simulations may run in one process.
void set_assert_context(std::string context);
const std::string& assert_context();

[[noreturn]] void assert_fail(const char* expr, const char* file, int line,
                              std::string_view message);

}  // namespace samsa

#define SAMSA_ASSERT(cond, ...)                                            \
  do {                                                                     \
    if (!(cond)) [[unlikely]]                                              \
      ::samsa::assert_fail(#cond, __FILE__, __LINE__, "" __VA_ARGS__);     \
  } while (0)
