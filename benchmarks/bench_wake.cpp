// How one io_uring loop wakes another in a different thread: the two mechanisms a runner group could use,
// measured bare (liburing, no trio) as a ping-pong between two threads, each blocked in its own ring.
//   eventfd:  the sender write()s the receiver's eventfd, on which the receiver keeps an io_uring read in
//             flight; the receiver re-arms the read with its next submit. (What trio's loops use: the same
//             path serves to_thread workers and foreign threads, which have no ring.)
//   msg_ring: the sender submits IORING_OP_MSG_RING to the receiver's ring fd, batched into the submit it
//             makes anyway before waiting (IOSQE_CQE_SKIP_SUCCESS: no completion on the sender's ring);
//             the receiver finds a CQE and has nothing to re-arm. Only a thread with a ring can send one.
// Each iteration is one round trip (A wakes B, B wakes A).

#include <benchmark/benchmark.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

struct ring {
  io_uring r{};
  int efd = -1;
  std::uint64_t value = 0;
  ring() {
    if (io_uring_queue_init(8, &r, 0) < 0) throw std::runtime_error("io_uring_queue_init failed");
    efd = ::eventfd(0, EFD_CLOEXEC);
  }
  ~ring() {
    io_uring_queue_exit(&r);
    ::close(efd);
  }
  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;
  void arm_read() {
    io_uring_sqe* sqe = io_uring_get_sqe(&r);
    io_uring_prep_read(sqe, efd, &value, sizeof value, 0);
    io_uring_sqe_set_data64(sqe, 1);
  }
  void send_msg(const ring& to, std::uint64_t data) {
    io_uring_sqe* sqe = io_uring_get_sqe(&r);
    io_uring_prep_msg_ring(sqe, to.r.ring_fd, 0, data, 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;  // no completion on the sender's ring unless it failed
    io_uring_sqe_set_data64(sqe, 0);
  }
  /// Submits what is queued and waits for one completion; returns its user data.
  std::uint64_t wait_one() {
    io_uring_cqe* cqe = nullptr;
    for (;;) {
      int rc = io_uring_submit_and_wait(&r, 1);
      if (rc < 0 && rc != -EINTR) throw std::runtime_error("io_uring_submit_and_wait failed");
      if (io_uring_peek_cqe(&r, &cqe) == 0) break;
    }
    const std::uint64_t d = cqe->user_data;
    const int res = cqe->res;
    io_uring_cqe_seen(&r, cqe);
    if (res < 0) throw std::runtime_error("a wake-up failed: " + std::to_string(-res));
    return d;
  }
};

void poke(const ring& to) {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(to.efd, &one, sizeof one);
}

void wake_eventfd_pingpong(benchmark::State& state) {
  ring a, b;
  a.arm_read();
  b.arm_read();
  io_uring_submit(&a.r);
  io_uring_submit(&b.r);
  std::thread peer([&] {
    for (;;) {
      b.wait_one();
      if (b.value == 2) return;
      b.arm_read();
      poke(a);
    }
  });
  for (auto _ : state) {
    poke(b);
    a.wait_one();
    a.arm_read();
  }
  const std::uint64_t two = 2;
  [[maybe_unused]] auto n = ::write(b.efd, &two, sizeof two);  // b's read sees 2 (its counter was 0)
  peer.join();
}

void wake_msg_ring_pingpong(benchmark::State& state) {
  ring a, b;
  std::thread peer([&] {
    for (;;) {
      if (b.wait_one() == 2) return;
      b.send_msg(a, 1);
    }
  });
  for (auto _ : state) {
    a.send_msg(b, 1);
    a.wait_one();
  }
  a.send_msg(b, 2);
  io_uring_submit(&a.r);
  peer.join();
}

// The same, but each message submitted at once (its own io_uring_enter, as a sender that must not hold
// the target's ring fd past the call would), then a second enter to wait.
void wake_msg_ring_now_pingpong(benchmark::State& state) {
  ring a, b;
  std::thread peer([&] {
    for (;;) {
      if (b.wait_one() == 2) return;
      b.send_msg(a, 1);
      io_uring_submit(&b.r);
    }
  });
  for (auto _ : state) {
    a.send_msg(b, 1);
    io_uring_submit(&a.r);
    a.wait_one();
  }
  a.send_msg(b, 2);
  io_uring_submit(&a.r);
  peer.join();
}

}  // namespace

BENCHMARK(wake_eventfd_pingpong)->Unit(benchmark::kMicrosecond);
BENCHMARK(wake_msg_ring_pingpong)->Unit(benchmark::kMicrosecond);
BENCHMARK(wake_msg_ring_now_pingpong)->Unit(benchmark::kMicrosecond);
