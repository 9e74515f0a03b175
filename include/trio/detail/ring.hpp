#pragma once
/// \file
/// RAII io_uring: set-up with the fastest flags the kernel accepts, SQE get-or-flush, one enter per turn.

#include <liburing.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>

namespace trio::detail {

/// For tests: when non-zero, the only io_uring set-up flags tried (e.g. IORING_SETUP_COOP_TASKRUN to
/// exercise the loop's path for kernels that do not flag pending completions).
inline thread_local unsigned t_ring_flags_override = 0;

/// For an error of the calls that give a loop its file descriptors (eventfd, io_uring set-up): which
/// limit was reached and how to raise it, for EMFILE, ENFILE and ENOMEM; empty for other errors.
inline std::string fd_limit_hint(int err) {
  switch (err) {
    case EMFILE:
      return " (this process's limit on open files is reached: raise RLIMIT_NOFILE (ulimit -n, setrlimit) or "
             "close files; each trio::run, and so each runner of run_per_core, needs a few)";
    case ENFILE:
      return " (the system's limit on open files is reached: /proc/sys/fs/file-max)";
    case ENOMEM:
      return " (out of memory, or of locked memory for io_uring's rings on kernels before 5.12: raise "
             "RLIMIT_MEMLOCK (ulimit -l) or run fewer loops)";
    default:
      return {};
  }
}

class ring {
 public:
  explicit ring(unsigned entries = 256) {
    // Fastest first; older kernels refuse the newer flags with EINVAL. TASKRUN_FLAG makes the kernel
    // raise IORING_SQ_TASKRUN when completions wait to be reaped, so a busy loop can peek instead of
    // entering the kernel on every turn (completions_pending()).
    const unsigned attempts[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int rc = -EINVAL;
    for (unsigned flags : attempts) {
      if (t_ring_flags_override != 0) flags = t_ring_flags_override;
      io_uring_params p{};
      p.flags = flags;
      rc = io_uring_queue_init_params(entries, &ring_, &p);
      if (rc == 0) {
        flags_ = flags;
        features_ = p.features;
        break;
      }
      if (rc != -EINVAL || t_ring_flags_override != 0) break;
    }
    if (rc < 0 && !fd_limit_hint(-rc).empty())
      throw std::system_error(-rc, std::system_category(),
                              "trio::run: io_uring_queue_init failed" + fd_limit_hint(-rc));
    if (rc < 0) {
      std::string msg =
          "trio::run: io_uring is unavailable on this machine (io_uring_queue_init failed: " +
          std::string(std::strerror(-rc)) +
          "). trio-cpp needs Linux >= 5.19 with io_uring enabled; check /proc/sys/kernel/io_uring_disabled "
          "and any seccomp profile (containers often block io_uring)";
      throw std::system_error(-rc, std::system_category(), msg);
    }
  }
  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;
  ~ring() { io_uring_queue_exit(&ring_); }

  /// A fresh SQE; when the submission queue is full, flushes it to the kernel first.
  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
      io_uring_submit(&ring_);
      ++enters_;
      sqe = io_uring_get_sqe(&ring_);
      if (!sqe) throw std::system_error(EBUSY, std::system_category(), "trio: io_uring submission queue is full");
    }
    ++pending_;
    ++sqes_;
    return sqe;
  }

  /// An SQE that need not reach the kernel before the loop next waits (the loop's own wake-up read):
  /// it does not make a busy turn enter the kernel; any io_uring_enter submits it.
  io_uring_sqe* get_lazy_sqe() {
    io_uring_sqe* sqe = get_sqe();
    --pending_;
    return sqe;
  }

  bool has_pending_submissions() const noexcept { return pending_ != 0; }
  /// Whether completions_pending() is exact (the kernel flags deferred completions); otherwise the
  /// loop must enter the kernel from time to time to find out.
  bool can_peek_completions() const noexcept { return (flags_ & IORING_SETUP_TASKRUN_FLAG) != 0; }
  /// Completions are ready, or wait in the kernel to be posted (one load from the shared rings).
  bool completions_pending() const noexcept {
    const unsigned sq_flags = IO_URING_READ_ONCE(*ring_.sq.kflags);
    return (sq_flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) != 0 || io_uring_cq_ready(&ring_) != 0;
  }
  bool defer_taskrun() const noexcept { return (flags_ & IORING_SETUP_DEFER_TASKRUN) != 0; }
  bool can_skip_cqe_on_success() const noexcept { return (features_ & IORING_FEAT_CQE_SKIP) != 0; }

  /// Submits what is pending and waits up to `timeout_ns` (< 0: forever; 0: do not wait) for one
  /// completion. One io_uring_enter. Errors other than a timeout or an interruption throw.
  void submit_and_wait(std::int64_t timeout_ns) {
    pending_ = 0;
    ++enters_;
    int rc;
    if (timeout_ns == 0) {
      rc = io_uring_submit_and_get_events(&ring_);
    } else if (timeout_ns < 0) {
      io_uring_cqe* cqe = nullptr;
      rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, nullptr, nullptr);
    } else {
      __kernel_timespec ts{};
      ts.tv_sec = timeout_ns / 1'000'000'000;
      ts.tv_nsec = timeout_ns % 1'000'000'000;
      io_uring_cqe* cqe = nullptr;
      rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
      throw std::system_error(-rc, std::system_category(), "trio: io_uring_enter failed");
  }

  /// Calls fn(user_data, res, flags) for every completion ready now; returns how many there were.
  template <class F>
  unsigned drain(F&& fn) {
    unsigned head;
    unsigned n = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++n;
      fn(cqe->user_data, cqe->res, cqe->flags);
    }
    io_uring_cq_advance(&ring_, n);
    cqes_ += n;
    return n;
  }

  // Counters for run_statistics.
  std::uint64_t enters() const noexcept { return enters_; }
  std::uint64_t sqes() const noexcept { return sqes_; }
  std::uint64_t cqes() const noexcept { return cqes_; }

 private:
  io_uring ring_{};
  unsigned flags_ = 0;
  unsigned features_ = 0;
  unsigned pending_ = 0;
  std::uint64_t enters_ = 0;
  std::uint64_t sqes_ = 0;
  std::uint64_t cqes_ = 0;
};

}  // namespace trio::detail
