#include "sim/runtime/assert.h"

#include <fmt/format.h>

#include <cstdio>
#include <exception>

namespace samsa {

namespace {
thread_local std::string g_context;  // per simulation thread, not global
}

void set_assert_context(std::string context) { g_context = std::move(context); }
const std::string& assert_context() { return g_context; }

void assert_fail(const char* expr, const char* file, int line,
                 std::string_view message) {
  std::string text = fmt::format("assertion failed: {} at {}:{}", expr, file, line);
  if (!message.empty()) text += fmt::format(" ({})", message);
  if (!g_context.empty()) text += fmt::format("\n  {}", g_context);
  std::fprintf(stderr, "samsa: %s\n", text.c_str());
  throw InternalError{std::move(text)};
}

}  // namespace samsa
