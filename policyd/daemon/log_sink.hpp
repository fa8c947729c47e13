// BatchingSink: the daemon's log sink. Writes formatted lines to a file
// descriptor (stderr: journald's stream under systemd) in batches rather
// than one write(2) per line, because a decision line per request made the
// log sink's write the most expensive part of a warm answer.
//
// Contract:
// - Single-threaded, like the logger that owns it (spdlog's _st loggers).
// - Lines are appended to a buffer. The buffer is written out, whole lines
//   in order, when flush() is called, when it holds kFlushBytes or more,
//   and when the sink is destroyed. spdlog's flush_on(level) makes warnings
//   and errors go out at once.
// - When a line enters an empty buffer, `schedule` (if set) is called once:
//   the daemon posts a flush() to its event loop there, so the lines logged
//   while one batch of ready events is handled leave in one write, at most
//   one turn of the loop later.
// - write(2) is retried on EINTR and partial writes; a descriptor that
//   returns EAGAIN is waited for with poll(2). Lines that cannot be written
//   (EPIPE, EIO, ...) are dropped; logging must never stop the daemon.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <cstddef>
#include <functional>
#include <mutex>
#include <string>

namespace policyd {

class BatchingSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
  public:
    static constexpr std::size_t kFlushBytes = std::size_t{64} * 1024;

    explicit BatchingSink(int fd) : fd_(fd) {}
    ~BatchingSink() override;
    BatchingSink(const BatchingSink&) = delete;
    BatchingSink& operator=(const BatchingSink&) = delete;

    void set_schedule(std::function<void()> schedule) { schedule_ = std::move(schedule); }

  protected:
    void sink_it_(const spdlog::details::log_msg& message) override;
    void flush_() override;

  private:
    int fd_;
    std::string buffer_;
    std::function<void()> schedule_;
};

}  // namespace policyd
