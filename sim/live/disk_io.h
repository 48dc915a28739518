#pragma once
// A disk's I/O thread: blocking file operations (fsync, and the metadata
// operations that fsync a directory) run here instead of on the thread that
// runs every fiber of the process, so one broker's fdatasync no longer
// stalls the sockets and timers of all the others. The calling fiber parks
// until its operation is done; the completion is posted to the world's
// io_context (thread-safe) and makes the fiber ready again there, on the
// world's own thread. Operations run one at a time in submission order.
//
// Group commit: an fsync taken off the queue also completes every other
// fsync of the same file queued behind it (each was submitted after the
// writes it must cover, and one fdatasync that starts later covers them
// all), as a journaling disk's flusher would.
#include <asio/io_context.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace boost::fibers {
class context;
}

namespace samsa::sim {

// Written by the I/O thread, read by any.
struct DiskIoStats {
  std::atomic<std::uint64_t> ops{0};            // operations run on the I/O thread
  std::atomic<std::uint64_t> fsyncs_joined{0};  // fsyncs completed by another's call
};

class DiskIoThread {
 public:
  explicit DiskIoThread(asio::io_context& io);
  ~DiskIoThread();  // joins the thread; nothing may be queued then
  DiskIoThread(const DiskIoThread&) = delete;
  DiskIoThread& operator=(const DiskIoThread&) = delete;

  // Runs `op` on the I/O thread and parks the calling fiber until it ran.
  // `fsync_key` non-null marks an fsync of that file (for group commit):
  // `op` returns the fsync's result (0 or an errno), shared with the joined.
  int run(std::function<int()> op, const void* fsync_key = nullptr);

  const DiskIoStats& stats() const { return stats_; }

 private:
  struct Job {
    std::function<int()> op;
    const void* fsync_key;
    boost::fibers::context* ctx;
    int* result;
  };
  void loop();
  void complete(const Job& job, int result);

  asio::io_context& io_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  DiskIoStats stats_;
  std::thread thread_;
};

}  // namespace samsa::sim
