// TimerFn: a move-only callable kept inline up to k_inline_bytes and on the
// heap beyond; each callable is constructed and destroyed exactly once per
// live copy, whichever path it takes and however often it is moved.
#include <catch2/catch.hpp>

#include <array>
#include <memory>
#include <utility>

#include "sim/world/timer_fn.h"

using samsa::sim::TimerFn;

namespace {

// Counts live instances of a callable; `Pad` bytes decide inline or heap.
struct Counts {
  int live = 0;
  int calls = 0;
  int moves = 0;
};

template <std::size_t Pad>
struct Counted {
  Counts* c;
  std::array<unsigned char, Pad> pad{};
  explicit Counted(Counts* counts) : c(counts) { ++c->live; }
  Counted(Counted&& o) noexcept : c(o.c), pad(o.pad) {
    ++c->live;
    ++c->moves;
  }
  Counted(const Counted& o) : c(o.c), pad(o.pad) { ++c->live; }
  Counted& operator=(const Counted&) = delete;
  Counted& operator=(Counted&&) = delete;
  ~Counted() { --c->live; }
  void operator()() { ++c->calls; }
};

// The largest callable that stays inline, and the smallest that does not.
using Small = Counted<TimerFn::k_inline_bytes - sizeof(Counts*)>;
using Large = Counted<TimerFn::k_inline_bytes + 1>;
static_assert(sizeof(Small) == TimerFn::k_inline_bytes);
static_assert(sizeof(Large) > TimerFn::k_inline_bytes);

}  // namespace

TEST_CASE("TimerFn: empty by default, not callable") {
  TimerFn f;
  CHECK_FALSE(f);
  TimerFn g = std::move(f);
  CHECK_FALSE(g);
}

TEST_CASE("TimerFn: a callable of k_inline_bytes is kept inline") {
  Counts c;
  {
    TimerFn f{Small(&c)};
    REQUIRE(f);
    CHECK(c.live == 1);
    f();
    f();
    CHECK(c.calls == 2);
    // Moving the TimerFn moves the callable itself (it lives in the buffer).
    const int before = c.moves;
    TimerFn g = std::move(f);
    CHECK_FALSE(f);  // NOLINT(bugprone-use-after-move): a moved-from TimerFn is empty
    CHECK(c.moves == before + 1);
    CHECK(c.live == 1);
    g();
    CHECK(c.calls == 3);
  }
  CHECK(c.live == 0);
}

TEST_CASE("TimerFn: a callable larger than k_inline_bytes goes to the heap") {
  Counts c;
  {
    TimerFn f{Large(&c)};
    REQUIRE(f);
    CHECK(c.live == 1);
    // Moving the TimerFn moves only the pointer: the callable stays put.
    const int before = c.moves;
    TimerFn g = std::move(f);
    CHECK_FALSE(f);  // NOLINT(bugprone-use-after-move)
    CHECK(c.moves == before);
    CHECK(c.live == 1);
    g();
    CHECK(c.calls == 1);
  }
  CHECK(c.live == 0);
}

TEST_CASE("TimerFn: move assignment destroys what the target held") {
  Counts a, b;
  {
    TimerFn f{Small(&a)};
    TimerFn g{Large(&b)};
    f = std::move(g);
    CHECK(a.live == 0);  // f's inline callable is gone
    CHECK(b.live == 1);
    f();
    CHECK(b.calls == 1);
    CHECK(a.calls == 0);
    TimerFn h{Small(&a)};
    f = std::move(h);
    CHECK(b.live == 0);  // f's heap callable is freed
    CHECK(a.live == 1);
    f = TimerFn{};
    CHECK(a.live == 0);
    CHECK_FALSE(f);
  }
  CHECK(a.live == 0);
  CHECK(b.live == 0);
}

TEST_CASE("TimerFn: self move assignment keeps the callable") {
  Counts c;
  TimerFn f{Small(&c)};
  TimerFn& same = f;
  f = std::move(same);
  REQUIRE(f);
  f();
  CHECK(c.calls == 1);
  CHECK(c.live == 1);
}

TEST_CASE("TimerFn: move-only captures, as the network's deliveries carry") {
  auto owned = std::make_shared<int>(7);
  std::weak_ptr<int> seen = owned;
  int got = 0;
  {
    TimerFn f{[p = std::move(owned), &got]() { got = *p; }};
    CHECK_FALSE(seen.expired());
    TimerFn g = std::move(f);
    g();
    CHECK(got == 7);
  }
  CHECK(seen.expired());  // the capture died with the last TimerFn

  auto unique = std::make_unique<int>(3);
  TimerFn h{[u = std::move(unique), &got]() { got = *u; }};
  h();
  CHECK(got == 3);
}

TEST_CASE("TimerFn: a callable that throws on move is kept on the heap") {
  // Inline storage needs a nothrow move (TimerFn's own move is noexcept).
  struct ThrowingMove {
    Counts* c;
    explicit ThrowingMove(Counts* counts) : c(counts) { ++c->live; }
    ThrowingMove(ThrowingMove&& o) noexcept(false) : c(o.c) {
      ++c->live;
      ++c->moves;
    }
    ThrowingMove(const ThrowingMove&) = delete;
    ~ThrowingMove() { --c->live; }
    void operator()() { ++c->calls; }
  };
  Counts c;
  {
    TimerFn f{ThrowingMove(&c)};
    const int before = c.moves;
    TimerFn g = std::move(f);
    CHECK(c.moves == before);  // a heap pointer moved, not the callable
    g();
    CHECK(c.calls == 1);
    CHECK(c.live == 1);
  }
  CHECK(c.live == 0);
}
