#include "policyd/daemon/listeners.hpp"

#include <grp.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace policyd {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

std::string describe(const asio::ip::tcp::endpoint& endpoint) {
    if (endpoint.address().is_v6()) {
        return "inet:[" + endpoint.address().to_string() + "]:" + std::to_string(endpoint.port());
    }
    return "inet:" + endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

void set_owner(const std::string& path, const std::string& owner, const std::string& group) {
    if (owner.empty() && group.empty()) {
        return;
    }
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    if (!owner.empty()) {
        const passwd* entry = ::getpwnam(owner.c_str());
        if (entry == nullptr) {
            throw std::runtime_error("unix:" + path + ": no such user \"" + owner + "\"");
        }
        uid = entry->pw_uid;
    }
    if (!group.empty()) {
        const struct group* entry = ::getgrnam(group.c_str());
        if (entry == nullptr) {
            throw std::runtime_error("unix:" + path + ": no such group \"" + group + "\"");
        }
        gid = entry->gr_gid;
    }
    if (::chown(path.c_str(), uid, gid) != 0) {
        throw std::runtime_error("cannot set owner of unix:" + path + ": " + std::strerror(errno));
    }
}

// Accepts until the acceptor is closed. A TCP peer is named by its address;
// a unix peer by the socket's path (`name`). When accept fails (EMFILE when
// the descriptors run out, ENFILE, ENOBUFS), it would fail again at once: the
// loop waits, 50 ms doubling to 1 s, logs the first failure of the run and
// the recovery, and accepts again; the connection stays in the backlog.
template <typename Acceptor, typename Handler>
asio::awaitable<void> accept_loop(Acceptor& acceptor, std::string name, const bool& closed,
                                  const Handler& handler) {
    constexpr std::chrono::milliseconds kFirstPause{50};
    constexpr std::chrono::milliseconds kLongestPause{1000};
    std::chrono::milliseconds pause = kFirstPause;
    std::uint64_t failures = 0;
    asio::steady_timer timer(acceptor.get_executor());
    for (;;) {
        error_code ec;
        auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (closed || ec == asio::error::operation_aborted) {
                co_return;
            }
            if (failures++ == 0) {
                spdlog::error(
                    "accept on {} failed: {}; pausing accepts (up to {} ms each) until it works "
                    "again",
                    name, ec.message(), kLongestPause.count());
            }
            timer.expires_after(pause);
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            pause = std::min(pause * 2, kLongestPause);
            continue;
        }
        if (failures != 0) {
            spdlog::warn("accept on {} works again after {} failed attempts", name, failures);
            failures = 0;
            pause = kFirstPause;
        }
        std::string peer = name;
        if constexpr (std::is_same_v<Acceptor, asio::ip::tcp::acceptor>) {
            socket.set_option(asio::ip::tcp::no_delay(true), ec);
            const auto remote = socket.remote_endpoint(ec);
            peer = ec ? std::string("tcp") : describe(remote);
        }
        handler(std::move(socket), std::move(peer));
    }
}

}  // namespace

Listeners::Listeners(asio::io_context& io, TcpHandler on_tcp, UnixHandler on_unix,
                     std::string_view role)
    : io_(io),
      on_tcp_(std::move(on_tcp)),
      on_unix_(std::move(on_unix)),
      prefix_(role.empty() ? std::string() : std::string(role) + " ") {}

Listeners::~Listeners() {
    close();
}

void Listeners::listen(const Endpoint& endpoint, const Settings& settings) {
    if (endpoint.kind == Endpoint::Kind::inet) {
        listen_tcp(endpoint);
    } else {
        listen_unix(endpoint, settings);
    }
}

void Listeners::listen_tcp(const Endpoint& endpoint) {
    const asio::ip::tcp::endpoint where(asio::ip::make_address(endpoint.host), endpoint.port);
    auto& acceptor = tcp_.emplace_back(io_);
    error_code ec;
    acceptor.open(where.protocol(), ec);
    if (!ec) {
        acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
    }
    if (!ec && where.address().is_v6()) {
        // [::] should mean IPv6 only; IPv4 is configured separately.
        acceptor.set_option(asio::ip::v6_only(true), ec);
    }
    if (!ec) {
        acceptor.bind(where, ec);
    }
    if (!ec) {
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        throw std::runtime_error("cannot listen on " + describe(where) + ": " + ec.message());
    }
    spdlog::info("{}listening on {}", prefix_, describe(acceptor.local_endpoint()));
    asio::co_spawn(io_,
                   accept_loop(acceptor, describe(acceptor.local_endpoint()), closed_, on_tcp_),
                   asio::detached);
}

void Listeners::listen_unix(const Endpoint& endpoint, const Settings& settings) {
    const std::string& path = endpoint.path;
    // A socket left by an earlier run would make bind() fail; anything
    // that is not a socket is not ours to delete.
    struct stat existing {};
    if (::lstat(path.c_str(), &existing) == 0) {
        if (!S_ISSOCK(existing.st_mode)) {
            throw std::runtime_error("cannot listen on unix:" + path +
                                     ": exists and is not a socket");
        }
        ::unlink(path.c_str());
    }
    auto& acceptor = unix_.emplace_back(io_);
    error_code ec;
    acceptor.open(asio::local::stream_protocol(), ec);
    if (!ec) {
        // bind() creates the socket file with the process umask; make it
        // owner-only until chmod() below sets the configured mode, so it
        // is never briefly wider than asked. (One thread: no race on the
        // process-wide umask.)
        const mode_t previous = ::umask(0177);
        acceptor.bind(asio::local::stream_protocol::endpoint(path), ec);
        ::umask(previous);
    }
    if (!ec) {
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        throw std::runtime_error("cannot listen on unix:" + path + ": " + ec.message());
    }
    unix_paths_.push_back(path);
    const auto mode = static_cast<mode_t>(std::stoul(settings.unix_socket_mode, nullptr, 8));
    if (::chmod(path.c_str(), mode) != 0) {
        throw std::runtime_error("cannot set mode of unix:" + path + ": " + std::strerror(errno));
    }
    set_owner(path, settings.unix_socket_owner, settings.unix_socket_group);
    spdlog::info("{}listening on unix:{}", prefix_, path);
    asio::co_spawn(io_, accept_loop(acceptor, "unix:" + path, closed_, on_unix_), asio::detached);
}

void Listeners::adopt(int fd, const std::string& endpoint, bool unix_socket) {
    error_code ec;
    if (unix_socket) {
        auto& acceptor = unix_.emplace_back(io_);
        acceptor.assign(asio::local::stream_protocol(), fd, ec);
        if (ec) {
            throw std::runtime_error("cannot serve " + endpoint +
                                     " passed by systemd: " + ec.message());
        }
        spdlog::info("{}listening on {} (socket passed by systemd)", prefix_, endpoint);
        asio::co_spawn(io_, accept_loop(acceptor, endpoint, closed_, on_unix_), asio::detached);
        return;
    }
    const auto protocol =
        endpoint.starts_with("inet:[") ? asio::ip::tcp::v6() : asio::ip::tcp::v4();
    auto& acceptor = tcp_.emplace_back(io_);
    acceptor.assign(protocol, fd, ec);
    if (ec) {
        throw std::runtime_error("cannot serve " + endpoint +
                                 " passed by systemd: " + ec.message());
    }
    spdlog::info("{}listening on {} (socket passed by systemd)", prefix_, endpoint);
    asio::co_spawn(io_, accept_loop(acceptor, endpoint, closed_, on_tcp_), asio::detached);
}

void Listeners::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    error_code ignored;
    for (auto& acceptor : tcp_) {
        acceptor.close(ignored);
    }
    for (auto& acceptor : unix_) {
        acceptor.close(ignored);
    }
    for (const auto& path : unix_paths_) {
        ::unlink(path.c_str());
    }
}

}  // namespace policyd
