#include "policyd/daemon/systemd.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace policyd {
namespace {

void notify(const std::string& state) {
    // Returns 0 without NOTIFY_SOCKET: not under systemd, nothing to tell.
    static_cast<void>(sd_notify(0, state.c_str()));
}

std::string status_line(const std::string& status) {
    std::string line = "STATUS=";
    for (const char c : status) {
        line += c == '\n' ? ' ' : c;  // one line: a newline would start a new field
    }
    return line;
}

// The endpoint a listening socket serves, or "" for one we do not serve.
std::string endpoint_of(int fd, bool& unix_socket) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        return {};
    }
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (address.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);  // NOLINT: as above
        ::inet_ntop(AF_INET, &v4->sin_addr, text.data(), text.size());
        return "inet:" + std::string(text.data()) + ":" + std::to_string(ntohs(v4->sin_port));
    }
    if (address.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);  // NOLINT: as above
        ::inet_ntop(AF_INET6, &v6->sin6_addr, text.data(), text.size());
        return "inet:[" + std::string(text.data()) + "]:" + std::to_string(ntohs(v6->sin6_port));
    }
    if (address.ss_family == AF_UNIX) {
        const auto* local = reinterpret_cast<const sockaddr_un*>(&address);  // NOLINT: as above
        const std::size_t max = length - offsetof(sockaddr_un, sun_path);
        const std::string_view path(local->sun_path, ::strnlen(local->sun_path, max));
        if (path.empty()) {
            return {};  // abstract or unnamed: not a path daemon.listen can name
        }
        unix_socket = true;
        return "unix:" + std::string(path);
    }
    return {};
}

}  // namespace

std::vector<PassedSocket> passed_sockets() {
    std::vector<PassedSocket> sockets;
    // 1: unset LISTEN_FDS/LISTEN_PID so no child inherits them.
    const int count = sd_listen_fds(1);
    for (int i = 0; i < count; ++i) {
        const int fd = SD_LISTEN_FDS_START + i;
        PassedSocket socket;
        socket.fd = fd;
        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0) {
            socket.endpoint = endpoint_of(fd, socket.unix_socket);
        }
        sockets.push_back(std::move(socket));  // an empty endpoint: not ours to serve
    }
    return sockets;
}

Notifier::Notifier(boost::asio::io_context& io) : timer_(io) {
    std::uint64_t usec = 0;
    // 0: keep WATCHDOG_USEC for anyone who asks again. > 0: enabled for us.
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        interval_ = std::chrono::microseconds(usec);
    }
}

void Notifier::ready(const std::string& status) {
    notify("READY=1\n" + status_line(status));
}

void Notifier::reloading() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec = static_cast<std::uint64_t>(now.tv_sec) * 1000000U +
                      static_cast<std::uint64_t>(now.tv_nsec) / 1000U;
    notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void Notifier::stopping() {
    notify("STOPPING=1");
}

void Notifier::status(const std::string& status) {
    notify(status_line(status));
}

void Notifier::start_watchdog(std::function<std::string()> status) {
    if (interval_.count() == 0 || running_) {
        return;
    }
    status_ = std::move(status);
    running_ = true;
    arm();
}

void Notifier::stop_watchdog() {
    running_ = false;
    // Cancelling a timer does not fail in practice; the wait ends either way
    // (running_ is false).
    try {
        timer_.cancel();
    } catch (const boost::system::system_error&) {  // NOLINT(bugprone-empty-catch)
    }
}

void Notifier::arm() {
    // Half the interval, as sd_watchdog_enabled(3) advises: one late turn of
    // a busy loop must not cost a restart.
    timer_.expires_after(interval_ / 2);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || !running_) {
            return;
        }
        notify("WATCHDOG=1\n" + status_line(status_ ? status_() : std::string()));
        arm();
    });
}

}  // namespace policyd
