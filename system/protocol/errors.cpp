#include "system/protocol/errors.h"

#include <array>

namespace samsa::protocol {

namespace {

struct ErrorInfo {
  ErrorCode code;
  std::string_view name;
  bool retriable;
};

constexpr std::array k_errors = {
#define SAMSA_ERROR_CODE(id, name, code, retriable) ErrorInfo{ErrorCode::id, #name, retriable},
#include "system/protocol/errors_list.h"
#undef SAMSA_ERROR_CODE
};

// Kafka's codes run from -1 without gaps; the table is in code order, so a
// code's entry is at code + 1 (checked at compile time).
constexpr bool dense() {
  for (std::size_t i = 0; i < k_errors.size(); ++i) {
    if (static_cast<std::int64_t>(k_errors[i].code) != static_cast<std::int64_t>(i) - 1) return false;
  }
  return true;
}
static_assert(dense(), "Kafka's error codes are expected to be -1..N without gaps");

const ErrorInfo* find(ErrorCode e) {
  const std::int64_t i = static_cast<std::int64_t>(e) + 1;
  if (i < 0 || i >= static_cast<std::int64_t>(k_errors.size())) return nullptr;
  return &k_errors[static_cast<std::size_t>(i)];
}

}  // namespace

std::string_view to_string(ErrorCode e) {
  const ErrorInfo* info = find(e);
  return info ? info->name : "UNKNOWN_ERROR_CODE";
}

bool is_known(ErrorCode e) { return find(e) != nullptr; }

bool is_retriable(ErrorCode e) {
  const ErrorInfo* info = find(e);
  return info != nullptr && info->retriable;
}

std::optional<ErrorCode> error_code_from_int(std::int16_t v) {
  const ErrorInfo* info = find(static_cast<ErrorCode>(v));
  if (info == nullptr) return std::nullopt;
  return info->code;
}

std::optional<ErrorCode> error_code_from_name(std::string_view name) {
  for (const ErrorInfo& info : k_errors) {
    if (info.name == name) return info.code;
  }
  return std::nullopt;
}

}  // namespace samsa::protocol
