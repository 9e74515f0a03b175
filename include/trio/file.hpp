#pragma once
/// \file
/// trio::open_file and trio::async_file: buffered file I/O on io_uring (spec FILE-01). Python Trio
/// runs file calls in worker threads; here every open, read, write, fsync, statx and close is an
/// io_uring operation through the one operation protocol, on the loop's own thread.
///
///     trio::async_file f = co_await trio::open_file("system.log");
///     std::string line;
///     while (co_await f.read_line(line)) fmt::print("{}\n", line);   // one read(2) per 64 KiB
///     co_await f.aclose();
///
/// Buffering: reads fill a 64 KiB buffer (a longer line grows it), small writes collect in a 64 KiB
/// buffer that flush(), seek(), a read or aclose() writes out. Every call is a cancel point; a call
/// that does I/O also lets other tasks run, so a loop over a file yields at least once per buffer.
/// A call answered from the buffer completes without suspending and without a coroutine frame, so
/// loops of millions of read_line/write calls stay cheap and never nest on the stack.
///
/// One task at a time per file for the sequential calls (busy_resource_error otherwise); the
/// positional read_at / write_at may run from many tasks at once. Don't move a file while a call on
/// it is in progress.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "trio/checkpoint.hpp"
#include "trio/detail/runner.hpp"
#include "trio/detail/uring_op.hpp"
#include "trio/errors.hpp"
#include "trio/task.hpp"
#include "trio/timeouts.hpp"

namespace trio {

namespace detail {

/// What a Python mode string ("r", "w", "a", "x", each with optional "+" and "b"/"t") means.
struct file_mode {
  int flags = 0;
  bool readable = false;
  bool writable = false;
};

inline file_mode parse_file_mode(std::string_view mode) {
  file_mode m;
  char kind = 0;
  bool plus = false, binary = false, text = false, bad = mode.empty();
  for (char c : mode) {
    if (c == 'r' || c == 'w' || c == 'a' || c == 'x') {
      bad |= kind != 0;
      kind = c;
    } else if (c == '+') {
      bad |= plus;
      plus = true;
    } else if (c == 'b') {
      bad |= binary || text;
      binary = true;
    } else if (c == 't') {
      bad |= binary || text;
      text = true;
    } else {
      bad = true;
    }
  }
  if (bad || kind == 0)
    throw std::invalid_argument("trio::open_file: invalid mode \"" + std::string(mode) +
                                "\": use one of r, w, a, x, optionally followed by + and b (\"r\", \"w+\", \"ab\")");
  m.readable = kind == 'r' || plus;
  m.writable = kind != 'r' || plus;
  m.flags = O_CLOEXEC | (m.readable && m.writable ? O_RDWR : m.readable ? O_RDONLY : O_WRONLY);
  if (kind == 'w') m.flags |= O_CREAT | O_TRUNC;
  if (kind == 'a') m.flags |= O_CREAT | O_APPEND;
  if (kind == 'x') m.flags |= O_CREAT | O_EXCL;
  return m;
}

inline constexpr std::size_t file_buffer_size = 64 * 1024;

/// co_await file_call(fd, prep): one uring_call (resubmitted by the call itself when a withdrawn
/// cancellation interrupted it); returns the completion's res (a negative errno for a failure).
template <class Prep>
task<int> file_call(int fd, Prep prep) {
  co_return co_await uring_call{fd, io_direction::none, "trio::async_file", prep};
}

}  // namespace detail

class async_file;
task<async_file> open_file(std::string path, std::string_view mode = "r");

/// A file opened by open_file. Move-only; destroying an open file writes out its buffer (blocking)
/// and closes it: call aclose() to do that on the loop and to see the errors.
///
/// A write the disk refuses (ENOSPC, EDQUOT, EFBIG, EIO) throws std::system_error from the call that
/// writes: write() (when it fills the buffer or is larger than it), flush(), seek(), a read, sync(),
/// aclose() or write_file(). The file then holds exactly the bytes written before, in order; the
/// bytes the buffer could not write stay in it, and a later flush() (once there is room) writes them
/// where they belong.
///
/// The trap: after a failed write, a file that is destroyed instead of closed with aclose() tries
/// its buffer once more and, if that fails too, can only say so on stderr (a destructor cannot
/// throw). Always `co_await f.aclose()` and handle its error; it throws what was lost.
///
/// The position of a regular file is kept here, and reads and writes go to explicit offsets (a
/// write cut short by a full disk does not always move the kernel's file offset): the fd's own
/// offset does not follow the reads and writes, so use read_at/write_at, not fd(), for I/O of your
/// own. Files opened for appending and pipes, FIFOs and terminals use the kernel's position.
class async_file {
 public:
  async_file() noexcept = default;
  async_file(async_file&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)),
        path_(std::move(o.path_)),
        mode_(o.mode_),
        rbuf_(std::move(o.rbuf_)),
        rpos_(std::exchange(o.rpos_, 0)),
        rend_(std::exchange(o.rend_, 0)),
        wbuf_(std::move(o.wbuf_)),
        slow_(std::exchange(o.slow_, {})),
        pos_(std::exchange(o.pos_, 0)),
        at_offset_(std::exchange(o.at_offset_, false)) {}
  async_file& operator=(async_file&& o) noexcept {
    if (this != &o) {
      close_now();
      fd_ = std::exchange(o.fd_, -1);
      path_ = std::move(o.path_);
      mode_ = o.mode_;
      rbuf_ = std::move(o.rbuf_);
      rpos_ = std::exchange(o.rpos_, 0);
      rend_ = std::exchange(o.rend_, 0);
      wbuf_ = std::move(o.wbuf_);
      slow_ = std::exchange(o.slow_, {});
      pos_ = std::exchange(o.pos_, 0);
      at_offset_ = std::exchange(o.at_offset_, false);
    }
    return *this;
  }
  async_file(const async_file&) = delete;
  async_file& operator=(const async_file&) = delete;
  ~async_file() { close_now(); }

  /// Whether the file is open (not yet closed or moved from).
  bool is_open() const noexcept { return fd_ >= 0; }
  /// The file descriptor, for fstat, fcntl and the like. Its own offset is not the file's position
  /// (see tell()).
  int fd() const noexcept { return fd_; }
  /// The path given to open_file (error messages name it).
  const std::string& path() const noexcept { return path_; }

  /// Up to buffer.size() bytes at the current position; 0 at the end of the file.
  auto read(std::span<std::byte> buffer) { return read_awaiter{this, buffer}; }

  /// The rest of the file from the current position.
  task<std::string> read_all() {
    busy_scope busy(*this, "trio::async_file::read_all");
    check_readable("read_all");
    co_await before_read();
    // Read into the buffer itself (a cancelled read_all keeps what it read: the next read sees it).
    if (rpos_ > 0) compact();
    std::uint64_t hint = co_await size_hint();
    if (hint > rend_ && hint - rend_ > detail::file_buffer_size && hint < (std::uint64_t{1} << 40))
      rbuf_.resize(static_cast<std::size_t>(hint) + 1);
    for (;;) {
      if (rbuf_.size() == rend_) rbuf_.resize(rend_ + std::max(rend_, detail::file_buffer_size));
      if (co_await fill("read_all") == 0) break;
    }
    rbuf_.resize(rend_);
    std::string out = std::exchange(rbuf_, {});
    rpos_ = rend_ = 0;
    co_return out;
  }

  /// The next line without its "\n" (or "\r\n"); std::nullopt at the end of the file. A last line
  /// without a newline is returned as it is.
  auto read_line() { return line_awaiter<true>{this, &line_}; }

  /// As read_line(), into `line` (its capacity is reused, as std::getline's): false at the end of
  /// the file. The loop a C++ reader expects:
  ///     std::string line;
  ///     while (co_await f.read_line(line)) { ... }
  auto read_line(std::string& line) { return line_awaiter<false>{this, &line}; }

  /// Writes all of data (buffered: small writes reach the file at the latest at flush/aclose).
  auto write(std::string_view data) { return write_awaiter{this, data}; }
  /// write() of raw bytes.
  auto write(std::span<const std::byte> data) {
    return write_awaiter{this, {reinterpret_cast<const char*>(data.data()), data.size()}};
  }

  /// Positional I/O (pread/pwrite): no buffer, the position is unchanged; many tasks may read_at
  /// and write_at one file at once (one io_uring_enter carries all their operations).
  task<std::size_t> read_at(std::span<std::byte> buffer, std::uint64_t offset) {
    check_open("read_at");
    auto prep = [&](io_uring_sqe* sqe) noexcept {
      io_uring_prep_read(sqe, fd_, buffer.data(), static_cast<unsigned>(std::min<std::size_t>(buffer.size(), 1u << 30)),
                         offset);
    };
    // (the uring_call in this frame: no second coroutine per read)
    const int res = co_await detail::uring_call{fd_, detail::io_direction::none, "trio::async_file::read_at", prep};
    if (res < 0) fail(-res, "read_at", "reading");
    co_return static_cast<std::size_t>(res);
  }
  /// Writes all of `data` at `offset` (pwrite, repeated until all is written); the position is unchanged.
  task<void> write_at(std::string_view data, std::uint64_t offset) {
    check_open("write_at");
    while (!data.empty()) {
      const int res = co_await detail::file_call(fd_, [&](io_uring_sqe* sqe) noexcept {
        io_uring_prep_write(sqe, fd_, data.data(), static_cast<unsigned>(std::min<std::size_t>(data.size(), 1u << 30)),
                            offset);
      });
      const std::size_t n = wrote(res, "write_at");
      data.remove_prefix(n);
      offset += n;
    }
  }

  /// Moves the position (whence: SEEK_SET, SEEK_CUR, SEEK_END) after writing out the buffer;
  /// returns the new position. A pipe: std::system_error (ESPIPE).
  task<std::uint64_t> seek(std::int64_t offset, int whence = SEEK_SET) {
    busy_scope busy(*this, "trio::async_file::seek");
    check_open("seek");
    co_await write_out("seek");
    if (whence == SEEK_CUR) {
      offset -= static_cast<std::int64_t>(rend_ - rpos_);
      if (at_offset_) {  // the kernel's offset is not ours: from the tracked position
        offset += static_cast<std::int64_t>(pos_);
        whence = SEEK_SET;
      }
    }
    const off_t at = ::lseek(fd_, static_cast<off_t>(offset), whence);
    if (at < 0) fail(errno, "seek", "seeking in");
    pos_ = static_cast<std::uint64_t>(at);
    rpos_ = rend_ = 0;
    co_await checkpoint_if_cancelled();
    co_return static_cast<std::uint64_t>(at);
  }

  /// The current position (what is buffered counts where it will land). No I/O.
  std::uint64_t tell() const {
    check_open("tell");
    std::uint64_t at = pos_;
    if (!at_offset_) {
      const off_t kernel = ::lseek(fd_, 0, SEEK_CUR);
      if (kernel < 0) fail(errno, "tell", "telling the position in");
      at = static_cast<std::uint64_t>(kernel);
    }
    return at - (rend_ - rpos_) + wbuf_.size();
  }

  /// The file's size now (statx on io_uring; buffered writes are not counted until written).
  task<std::uint64_t> size() {
    check_open("size");
    co_return co_await stat_size("size");
  }

  /// Writes out the buffer (not a durability guarantee: see sync()).
  task<void> flush() {
    busy_scope busy(*this, "trio::async_file::flush");
    check_open("flush");
    co_await write_out("flush");
    co_await checkpoint_if_cancelled();
  }

  /// flush() and fsync: the data is on the device when this returns.
  task<void> sync() {
    busy_scope busy(*this, "trio::async_file::sync");
    check_open("sync");
    co_await write_out("sync");
    const int res =
        co_await detail::file_call(fd_, [&](io_uring_sqe* sqe) noexcept { io_uring_prep_fsync(sqe, fd_, 0); });
    if (res < 0) fail(-res, "sync", "syncing");
  }

  /// Writes out the buffer and closes the file, shielded from cancellation, then checkpoints: in a
  /// cancelled scope it throws trio::cancelled, and the file is closed (FILE-01). A write error
  /// is thrown after the close. Closing a closed file is a checkpoint only.
  task<void> aclose() {
    if (fd_ >= 0) {
      std::exception_ptr error;
      co_await trio::shielded([&]() -> task<> {
        try {
          co_await write_out("aclose");
        } catch (...) {
          error = std::current_exception();
          wbuf_.clear();
        }
        const int fd = std::exchange(fd_, -1);
        rpos_ = rend_ = 0;
        const int res =
            co_await detail::file_call(-1, [&](io_uring_sqe* sqe) noexcept { io_uring_prep_close(sqe, fd); });
        if (res < 0 && !error) {
          try {
            detail::throw_errno(-res, "trio::async_file::aclose: closing '" + path_ + "' failed");
          } catch (...) {
            error = std::current_exception();
          }
        }
      });
      if (error) std::rethrow_exception(error);
    }
    co_await checkpoint();
  }

 private:
  friend task<async_file> open_file(std::string path, std::string_view mode);

  // ---- the awaiters of the calls that can complete from the buffer (trivially destructible) ----

  /// Runs `slow` (a task of this file) when the fast path declined; keeps its frame in slow_ so
  /// that the file destroys it if the awaiting task never resumes.
  template <class T>
  struct slow_path {
    std::coroutine_handle<detail::task_promise<T>> h{};
    std::coroutine_handle<> start(async_file* f, task<T> t, std::coroutine_handle<> awaiting) noexcept {
      h = std::move(t).release();
      f->slow_ = h;
      h.promise().set_awaiting(awaiting);
      return h;
    }
    T finish(async_file* f) {
      f->slow_ = {};
      struct destroy {
        std::coroutine_handle<detail::task_promise<T>> h;
        ~destroy() { h.destroy(); }
      } d{h};
      return h.promise().result();
    }
  };

  template <bool Optional>
  struct [[nodiscard]] line_awaiter {
    async_file* f;
    std::string* out;
    bool fast = false;
    slow_path<bool> slow{};
    bool await_ready() {
      fast = f->line_ready(*out);
      return fast;
    }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      return slow.start(f, f->read_line_slow(out), h);
    }
    auto await_resume() {
      const bool got = fast ? true : slow.finish(f);
      if constexpr (Optional) {
        return got ? std::optional<std::string>(std::move(*out)) : std::nullopt;
      } else {
        return got;
      }
    }
  };

  struct [[nodiscard]] read_awaiter {
    async_file* f;
    std::span<std::byte> buffer;
    std::size_t n = 0;
    bool fast = false;
    slow_path<std::size_t> slow{};
    bool await_ready() {
      if (f->can_take_fast() && f->rend_ > f->rpos_ && !buffer.empty()) {
        n = std::min(buffer.size(), f->rend_ - f->rpos_);
        std::memcpy(buffer.data(), f->rbuf_.data() + f->rpos_, n);
        f->rpos_ += n;
        fast = true;
      }
      return fast;
    }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) { return slow.start(f, f->read_slow(buffer), h); }
    std::size_t await_resume() { return fast ? n : slow.finish(f); }
  };

  struct [[nodiscard]] write_awaiter {
    async_file* f;
    std::string_view data;
    bool fast = false;
    slow_path<void> slow{};
    bool await_ready() {
      if (f->can_take_fast() && f->mode_.writable && f->rend_ == f->rpos_ &&
          f->wbuf_.size() + data.size() <= detail::file_buffer_size) {
        f->wbuf_.append(data);
        fast = true;
      }
      return fast;
    }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) { return slow.start(f, f->write_slow(data), h); }
    void await_resume() {
      if (!fast) slow.finish(f);
    }
  };

  /// The fast path may run: open, no other call in progress, and the task is not cancelled (the
  /// slow path throws the cancellation).
  bool can_take_fast() const {
    if (fd_ < 0 || busy_) return false;
    detail::runner& r = detail::current_runner("trio::async_file");
    return !r.current_or_throw("trio::async_file").status->effectively_cancelled;
  }

  bool line_ready(std::string& out) {
    if (!can_take_fast() || !mode_.readable || rpos_ == rend_) return false;
    const char* begin = rbuf_.data() + rpos_;
    const auto* nl = static_cast<const char*>(std::memchr(begin, '\n', rend_ - rpos_));
    if (!nl) return false;
    take_line(out, nl);
    return true;
  }
  void take_line(std::string& out, const char* nl) {
    const char* begin = rbuf_.data() + rpos_;
    const char* end = (nl > begin && nl[-1] == '\r') ? nl - 1 : nl;
    out.assign(begin, end);
    rpos_ = static_cast<std::size_t>(nl - rbuf_.data()) + 1;
  }

  task<bool> read_line_slow(std::string* out) {
    busy_scope busy(*this, "trio::async_file::read_line");
    check_readable("read_line");
    co_await checkpoint_if_cancelled();
    co_await before_read();
    std::size_t scanned = rpos_;  // no newline in [rpos_, scanned)
    for (;;) {
      if (const auto* nl = static_cast<const char*>(std::memchr(rbuf_.data() + scanned, '\n', rend_ - scanned))) {
        take_line(*out, nl);
        co_return true;
      }
      // Keep the partial line in the buffer (a cancelled read loses nothing) and read more after it.
      scanned = rend_ - rpos_;
      compact();
      if (rbuf_.size() - rend_ < detail::file_buffer_size / 2)
        rbuf_.resize(std::max(rbuf_.size() * 2, detail::file_buffer_size));
      if (co_await fill("read_line") == 0) {
        if (rend_ == rpos_) co_return false;
        out->assign(rbuf_.data() + rpos_, rend_ - rpos_);
        if (!out->empty() && out->back() == '\r') out->pop_back();
        rpos_ = rend_ = 0;
        co_return true;
      }
    }
  }

  task<std::size_t> read_slow(std::span<std::byte> buffer) {
    busy_scope busy(*this, "trio::async_file::read");
    check_readable("read");
    co_await checkpoint_if_cancelled();
    if (buffer.empty()) co_return 0;
    co_await before_read();
    if (rend_ == rpos_) {
      rpos_ = rend_ = 0;
      if (buffer.size() >= detail::file_buffer_size) co_return co_await read_into(buffer.data(), buffer.size(), "read");
      if (rbuf_.size() < detail::file_buffer_size) rbuf_.resize(detail::file_buffer_size);
      if (co_await fill("read") == 0) co_return 0;
    }
    const std::size_t n = std::min(buffer.size(), rend_ - rpos_);
    std::memcpy(buffer.data(), rbuf_.data() + rpos_, n);
    rpos_ += n;
    co_return n;
  }

  task<void> write_slow(std::string_view data) {
    busy_scope busy(*this, "trio::async_file::write");
    check_open("write");
    if (!mode_.writable)
      throw std::logic_error("trio::async_file::write: '" + path_ + "' was opened for reading only (mode \"r\"); " +
                             "open it with \"w\", \"a\" or \"r+\" to write");
    co_await checkpoint_if_cancelled();
    co_await drop_read_buffer();
    if (wbuf_.size() + data.size() <= detail::file_buffer_size) {
      wbuf_.append(data);
      co_return;
    }
    co_await write_out("write");
    if (data.size() < detail::file_buffer_size) {
      wbuf_.append(data);
      co_return;
    }
    co_await write_all(data, "write");
  }

  // ---- helpers ----

  struct busy_scope {
    async_file& f;
    busy_scope(async_file& file, const char* what) : f(file) {
      if (f.busy_)
        throw busy_resource_error(std::string(what) + ": another task is already using '" + f.path_ +
                                  "'; use one task at a time per file (or read_at/write_at from many)");
      f.busy_ = true;
    }
    ~busy_scope() { f.busy_ = false; }
    busy_scope(const busy_scope&) = delete;
    busy_scope& operator=(const busy_scope&) = delete;
  };

  void check_open(const char* op) const {
    if (fd_ < 0)
      throw closed_resource_error(std::string("trio::async_file::") + op + ": the file " +
                                  (path_.empty() ? std::string() : "'" + path_ + "' ") + "is closed");
  }
  void check_readable(const char* op) const {
    check_open(op);
    if (!mode_.readable)
      throw std::logic_error(std::string("trio::async_file::") + op + ": '" + path_ +
                             "' was opened for writing only; open it with \"r\", \"r+\", \"w+\" or \"a+\" to read");
  }
  [[noreturn]] [[gnu::cold]] void fail(int err, const char* op, const char* doing) const {
    detail::throw_errno(err, std::string("trio::async_file::") + op + ": " + doing + " '" + path_ + "' failed");
  }

  /// Moves the unread bytes to the front of the buffer.
  void compact() noexcept {
    if (rpos_ == 0) return;
    std::memmove(rbuf_.data(), rbuf_.data() + rpos_, rend_ - rpos_);
    rend_ -= rpos_;
    rpos_ = 0;
  }

  /// Reads once into the buffer's free tail; returns the byte count (0: end of file).
  task<std::size_t> fill(const char* op) {
    const std::size_t n = co_await read_into(rbuf_.data() + rend_, rbuf_.size() - rend_, op);
    rend_ += n;
    co_return n;
  }

  task<std::size_t> read_into(void* dst, std::size_t len, const char* op) {
    const int res = co_await detail::file_call(fd_, [&](io_uring_sqe* sqe) noexcept {
      io_uring_prep_read(sqe, fd_, dst, static_cast<unsigned>(std::min<std::size_t>(len, 1u << 30)), io_offset());
    });
    if (res < 0) fail(-res, op, "reading");
    if (at_offset_) pos_ += static_cast<std::uint64_t>(res);
    co_return static_cast<std::size_t>(res);
  }

  /// Where the next read or write goes: the tracked position, or -1 (the kernel's position: a
  /// file opened for appending, a pipe, a FIFO, a terminal).
  std::uint64_t io_offset() const noexcept { return at_offset_ ? pos_ : ~std::uint64_t{0}; }

  /// The byte count of a write's completion. A failure throws; so does a write that wrote nothing
  /// (retrying it would never end).
  std::size_t wrote(int res, const char* op) const {
    if (res < 0) [[unlikely]]
      fail(-res, op, "writing");
    if (res == 0) [[unlikely]]
      detail::throw_errno(EIO, std::string("trio::async_file::") + op + ": writing '" + path_ +
                                   "' made no progress (the kernel wrote 0 bytes)");
    return static_cast<std::size_t>(res);
  }

  /// Writes all of data at the position; a failure throws, the bytes before it are in the file.
  task<void> write_all(std::string_view data, const char* op) {
    while (!data.empty()) {
      const int res = co_await detail::file_call(fd_, [&](io_uring_sqe* sqe) noexcept {
        io_uring_prep_write(sqe, fd_, data.data(), static_cast<unsigned>(std::min<std::size_t>(data.size(), 1u << 30)),
                            io_offset());
      });
      const std::size_t n = wrote(res, op);
      if (at_offset_) pos_ += n;
      data.remove_prefix(n);
    }
  }

  /// Writes out the write buffer (what was written stays out of it even if this is cancelled; what
  /// a failure kept from being written stays in it, for a later flush).
  task<void> write_out(const char* op) {
    while (!wbuf_.empty()) {
      const int res = co_await detail::file_call(fd_, [&](io_uring_sqe* sqe) noexcept {
        io_uring_prep_write(sqe, fd_, wbuf_.data(), static_cast<unsigned>(wbuf_.size()), io_offset());
      });
      const std::size_t n = wrote(res, op);
      if (at_offset_) pos_ += n;
      wbuf_.erase(0, n);
    }
  }

  /// Before reading: pending writes go out first.
  task<void> before_read() {
    if (!wbuf_.empty()) co_await write_out("read");
  }

  /// Before writing: unread buffered bytes are given back (the position moves back over them).
  task<void> drop_read_buffer() {
    if (rend_ > rpos_) {
      if (at_offset_)
        pos_ -= rend_ - rpos_;
      else if (::lseek(fd_, -static_cast<off_t>(rend_ - rpos_), SEEK_CUR) < 0 && errno != ESPIPE)
        fail(errno, "write", "seeking in");
    }
    rpos_ = rend_ = 0;
    co_return;
  }

  task<std::uint64_t> stat_size(const char* op) {
    struct statx st {};
    const int res = co_await detail::file_call(fd_, [&](io_uring_sqe* sqe) noexcept {
      io_uring_prep_statx(sqe, fd_, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE, &st);
    });
    if (res < 0) fail(-res, op, "stat of");
    co_return st.stx_size;
  }

  /// The bytes left from the position to the end, if the file is a regular file (0 if unknown).
  task<std::uint64_t> size_hint() {
    const off_t at = at_offset_ ? static_cast<off_t>(pos_) : ::lseek(fd_, 0, SEEK_CUR);
    if (at < 0) co_return 0;
    const std::uint64_t size = co_await stat_size("read_all");
    co_return size > static_cast<std::uint64_t>(at) ? size - static_cast<std::uint64_t>(at) + rend_ : 0;
  }

  /// Synchronous: the destructor's flush and close. What cannot be written is reported on stderr
  /// (a destructor cannot throw; aclose() would have).
  void close_now() noexcept {
    if (slow_) slow_.destroy();
    slow_ = {};
    if (fd_ < 0) return;
    std::string_view rest = wbuf_;
    int err = 0;
    while (!rest.empty()) {
      const ssize_t n = at_offset_ ? ::pwrite(fd_, rest.data(), rest.size(), static_cast<off_t>(pos_))
                                   : ::write(fd_, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        err = n < 0 ? errno : EIO;
        break;
      }
      rest.remove_prefix(static_cast<std::size_t>(n));
      if (at_offset_) pos_ += static_cast<std::uint64_t>(n);
    }
    if (!rest.empty())
      std::fprintf(stderr,
                   "trio::async_file: %zu bytes written to '%s' were lost: the file was destroyed with them in its "
                   "buffer and writing them failed (%s). Close files with co_await f.aclose() and handle its "
                   "error.\n",
                   rest.size(), path_.c_str(), std::strerror(err));
    wbuf_.clear();
    if (::close(std::exchange(fd_, -1)) != 0 && errno != EINTR)
      std::fprintf(stderr,
                   "trio::async_file: closing '%s' failed (%s) when the file was destroyed: what was written "
                   "may be lost. Close files with co_await f.aclose() and handle its error.\n",
                   path_.c_str(), std::strerror(errno));
  }

  int fd_ = -1;
  std::string path_;
  detail::file_mode mode_{};
  std::string rbuf_;  // read buffer: unread bytes are [rpos_, rend_)
  std::size_t rpos_ = 0;
  std::size_t rend_ = 0;
  std::string wbuf_;  // bytes written but not yet in the file
  std::string line_;  // read_line()'s result before it is moved out
  std::coroutine_handle<> slow_{};
  std::uint64_t pos_ = 0;   // if at_offset_: where the next read or write of the file goes
  bool at_offset_ = false;  // a regular file (or block device) not opened for appending
  bool busy_ = false;
};

/// Opens path with a Python mode: "r" (the default), "w" (create, truncate), "a" (create, append),
/// "x" (create, must not exist), each with "+" for reading and writing; "b" and "t" are accepted
/// and mean the same (bytes in, bytes out; read_line strips "\n" and "\r\n"). A missing file, a
/// directory or a permission error is std::system_error naming the path; a bad mode is
/// std::invalid_argument.
inline task<async_file> open_file(std::string path, std::string_view mode) {
  const detail::file_mode m = detail::parse_file_mode(mode);
  const std::string what = "trio::open_file: cannot open '" + path + "' (mode \"" + std::string(mode) + "\")";
  const int fd = co_await detail::file_call(
      -1, [&](io_uring_sqe* sqe) noexcept { io_uring_prep_openat(sqe, AT_FDCWD, path.c_str(), m.flags, 0666); });
  if (fd < 0) detail::throw_errno(-fd, what);
  async_file f;
  f.fd_ = fd;  // owned from here: closed on any exception below
  f.path_ = std::move(path);
  f.mode_ = m;
  struct statx st {};
  const int res = co_await detail::file_call(
      fd, [&](io_uring_sqe* sqe) noexcept { io_uring_prep_statx(sqe, fd, "", AT_EMPTY_PATH, STATX_TYPE, &st); });
  if (res < 0) detail::throw_errno(-res, what);
  if (S_ISDIR(st.stx_mode)) detail::throw_errno(EISDIR, what);
  // Seekable files are read and written at offsets this file tracks; appends and streams (pipes,
  // FIFOs, terminals, sockets, files a driver opened as a stream) at the kernel's position.
  f.at_offset_ =
      (S_ISREG(st.stx_mode) || S_ISBLK(st.stx_mode)) && (m.flags & O_APPEND) == 0 && ::lseek(fd, 0, SEEK_CUR) == 0;
  co_return f;
}

/// The whole file.
inline task<std::string> read_file(std::string path) {
  async_file f = co_await open_file(std::move(path), "r");
  std::string data = co_await f.read_all();
  co_await f.aclose();
  co_return data;
}

/// Creates or truncates path and writes data to it.
inline task<void> write_file(std::string path, std::string_view data) {
  async_file f = co_await open_file(std::move(path), "w");
  co_await f.write(data);
  co_await f.aclose();
}

}  // namespace trio
