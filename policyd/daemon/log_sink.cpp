#include "policyd/daemon/log_sink.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace policyd {

BatchingSink::~BatchingSink() {
    flush_();
}

void BatchingSink::sink_it_(const spdlog::details::log_msg& message) {
    const bool was_empty = buffer_.empty();
    spdlog::memory_buf_t formatted;
    formatter_->format(message, formatted);
    buffer_.append(formatted.data(), formatted.size());
    if (buffer_.size() >= kFlushBytes) {
        flush_();
    } else if (was_empty && schedule_) {
        schedule_();
    }
}

void BatchingSink::flush_() {
    std::size_t done = 0;
    while (done < buffer_.size()) {
        const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd ready{fd_, POLLOUT, 0};
            if (::poll(&ready, 1, -1) >= 0 || errno == EINTR) {
                continue;
            }
        }
        break;  // the log is gone (EPIPE, EIO, ...): drop what is left
    }
    buffer_.clear();
}

}  // namespace policyd
