#include "sim/live/disk_io.h"

#include <boost/fiber/context.hpp>

#include <asio/post.hpp>

#include "sim/live/live_scheduler.h"
#include "sim/runtime/assert.h"

#include <vector>

namespace samsa::sim {

DiskIoThread::DiskIoThread(asio::io_context& io) : io_(io), thread_([this] { loop(); }) {}

DiskIoThread::~DiskIoThread() {
  {
    std::lock_guard<std::mutex> lk(mtx_);
    SAMSA_ASSERT(queue_.empty(), "a disk operation outlived its world");
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

int DiskIoThread::run(std::function<int()> op, const void* fsync_key) {
  boost::fibers::context* ctx = boost::fibers::context::active();
  int result = 0;
  {
    std::lock_guard<std::mutex> lk(mtx_);
    queue_.push_back(Job{std::move(op), fsync_key, ctx, &result});
  }
  cv_.notify_one();
  // The completion runs on this thread's dispatcher (after this fiber has
  // parked), so it can never come too early. Nothing else wakes the fiber:
  // a node shut down meanwhile waits in its join until the disk is done,
  // as a killed process's write still reaches the kernel.
  suspend_own(ctx);
  return result;
}

void DiskIoThread::complete(const Job& job, int result) {
  *job.result = result;
  boost::fibers::context* ctx = job.ctx;
  asio::post(io_, [ctx] { boost::fibers::context::active()->schedule(ctx); });
}

void DiskIoThread::loop() {
  std::unique_lock<std::mutex> lk(mtx_);
  for (;;) {
    cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left
    std::vector<Job> batch;
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
    // Group commit: every fsync of the same file still queued was
    // submitted after the writes it must cover and before the fdatasync
    // below starts, so that one call covers them all.
    if (const void* key = batch.front().fsync_key) {
      for (auto it = queue_.begin(); it != queue_.end();) {
        if (it->fsync_key != key) {
          ++it;
          continue;
        }
        batch.push_back(std::move(*it));
        it = queue_.erase(it);
      }
    }
    lk.unlock();
    const int result = batch.front().op();
    stats_.ops.fetch_add(1, std::memory_order_relaxed);
    stats_.fsyncs_joined.fetch_add(batch.size() - 1, std::memory_order_relaxed);
    for (const Job& j : batch) complete(j, result);
    lk.lock();
  }
}

}  // namespace samsa::sim
