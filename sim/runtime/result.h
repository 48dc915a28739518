#pragma once
// Result<T, E>: a value or an error, for failures that are expected at a
// boundary (I/O errors, refused connections, Kafka error codes, parse errors).
// Exceptions are reserved for sim::Crashed and InternalError.
#include <utility>
#include <variant>

#include "sim/runtime/assert.h"

namespace samsa {

template <class E>
struct Err {
  E error;
};
template <class E>
Err(E) -> Err<E>;

template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  template <class F>
  Result(Err<F> e) : v_(std::in_place_index<1>, E(std::move(e.error))) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    SAMSA_ASSERT(ok(), "value() of an error result");
    return std::get<0>(v_);
  }
  const T& value() const& {
    SAMSA_ASSERT(ok(), "value() of an error result");
    return std::get<0>(v_);
  }
  T&& value() && {
    SAMSA_ASSERT(ok(), "value() of an error result");
    return std::get<0>(std::move(v_));
  }
  const E& error() const {
    SAMSA_ASSERT(!ok(), "error() of an ok result");
    return std::get<1>(v_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  template <class F>
  Result(Err<F> e) : err_(E(std::move(e.error))), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const {
    SAMSA_ASSERT(!ok_, "error() of an ok result");
    return err_;
  }

 private:
  E err_{};
  bool ok_ = true;
};

}  // namespace samsa
