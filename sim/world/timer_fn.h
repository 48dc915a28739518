#pragma once
// A move-only callable for the world's timer callbacks, with room for a few
// captures inline. A network delivery ([this, shared_ptr<Conn>, dir]: 32
// bytes) is one timer per frame, and std::function keeps only 16 bytes of a
// trivially copyable callable inline: every delivery was a heap allocation.
// Larger callables still go to the heap.
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace samsa::sim {

class TimerFn {
 public:
  static constexpr std::size_t k_inline_bytes = 48;

  TimerFn() = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, TimerFn>>>
  TimerFn(F&& f) {  // NOLINT(google-explicit-constructor): lambdas convert as to std::function
    using D = std::decay_t<F>;
    if constexpr (fits_inline<D>()) {
      ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
      ops_ = &inline_ops<D>;
    } else {
      ::new (static_cast<void*>(buf_)) D*(new D(std::forward<F>(f)));
      ops_ = &heap_ops<D>;
    }
  }
  TimerFn(TimerFn&& o) noexcept { take(o); }
  TimerFn& operator=(TimerFn&& o) noexcept {
    if (this != &o) {
      reset();
      take(o);
    }
    return *this;
  }
  TimerFn(const TimerFn&) = delete;
  TimerFn& operator=(const TimerFn&) = delete;
  ~TimerFn() { reset(); }

  void operator()() { ops_->call(buf_); }
  explicit operator bool() const { return ops_ != nullptr; }

 private:
  struct Ops {
    void (*call)(void*);
    void (*move)(void* to, void* from) noexcept;  // constructs at `to`, destroys `from`
    void (*destroy)(void*) noexcept;
  };
  template <class D>
  static constexpr bool fits_inline() {
    return sizeof(D) <= k_inline_bytes && alignof(D) <= alignof(std::max_align_t) &&
           std::is_nothrow_move_constructible_v<D>;
  }
  template <class D>
  static constexpr Ops inline_ops{
      [](void* p) { (*static_cast<D*>(p))(); },
      [](void* to, void* from) noexcept {
        ::new (to) D(std::move(*static_cast<D*>(from)));
        static_cast<D*>(from)->~D();
      },
      [](void* p) noexcept { static_cast<D*>(p)->~D(); }};
  template <class D>
  static constexpr Ops heap_ops{
      [](void* p) { (**static_cast<D**>(p))(); },
      [](void* to, void* from) noexcept { ::new (to) D*(*static_cast<D**>(from)); },
      [](void* p) noexcept { delete *static_cast<D**>(p); }};

  void take(TimerFn& o) noexcept {
    if (o.ops_ == nullptr) return;
    o.ops_->move(buf_, o.buf_);
    ops_ = std::exchange(o.ops_, nullptr);
  }
  void reset() noexcept {
    if (ops_ != nullptr) std::exchange(ops_, nullptr)->destroy(buf_);
  }

  alignas(std::max_align_t) unsigned char buf_[k_inline_bytes];
  const Ops* ops_ = nullptr;
};

}  // namespace samsa::sim
