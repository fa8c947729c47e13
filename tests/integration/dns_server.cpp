#include "dns_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <system_error>

extern char** environ;

namespace testing_support {

namespace {

// ldns-testns reads a datafile of a few entries; anything slower than this
// is a broken machine or a broken datafile, and the test should say so.
constexpr auto kStartTimeout = std::chrono::seconds(10);

std::system_error errno_error(const std::string& what) {
    return {errno, std::generic_category(), what};
}

// One directory for every config file of this test run, removed at exit.
class TempDir {
  public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "rdns-itest-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            throw errno_error("mkdtemp " + pattern);
        }
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// The port from ldns-testns's "Listening on port N" line, 0 until it is
// complete (a line end after the digits).
std::uint16_t parse_port(const std::string& output) {
    static constexpr std::string_view marker = "Listening on port ";
    const auto at = output.find(marker);
    if (at == std::string::npos) {
        return 0;
    }
    const auto begin = at + marker.size();
    const auto end = output.find('\n', begin);
    if (end == std::string::npos || end == begin || end - begin > 5) {
        return 0;
    }
    unsigned long port = 0;
    for (auto i = begin; i < end; ++i) {
        if (output[i] < '0' || output[i] > '9') {
            return 0;
        }
        port = port * 10 + static_cast<unsigned long>(output[i] - '0');
    }
    return port <= 65535 ? static_cast<std::uint16_t>(port) : 0;
}

}  // namespace

TestNameServer::TestNameServer(const std::string& datafile, bool verbose) {
    if (!std::filesystem::is_regular_file(datafile)) {
        throw std::runtime_error("ldns-testns datafile not found: " + datafile);
    }
    // ldns-testns -r picks a random port; when that one is taken, its retry
    // binds the same socket again and fails with EINVAL, and it exits. A
    // fresh server picks a fresh port.
    constexpr int kAttempts = 5;
    std::string why;
    for (int attempt = 1; attempt <= kAttempts; ++attempt) {
        if (start(datafile, verbose, why)) {
            return;
        }
    }
    throw std::runtime_error(why);
}

bool TestNameServer::start(const std::string& datafile, bool verbose, std::string& why) {
    {
        const std::lock_guard<std::mutex> lock(mutex_);
        output_.clear();
        eof_ = false;
        port_ = 0;
    }
    std::array<int, 2> fds{};
    if (pipe2(fds.data(), O_CLOEXEC) != 0) {
        throw errno_error("pipe2");
    }
    // posix_spawn rather than fork: the test process has libunbound threads.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    std::string program = "ldns-testns";
    std::string verbose_flag = "-v";
    std::string random_port = "-r";
    std::string file = datafile;
    std::array<char*, 5> argv{program.data(), random_port.data(), file.data(), nullptr, nullptr};
    if (verbose) {
        argv = {program.data(), verbose_flag.data(), random_port.data(), file.data(), nullptr};
    }
    const int err = posix_spawnp(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (err != 0) {
        close(fds[0]);
        throw std::system_error(err, std::generic_category(), "spawning ldns-testns");
    }
    read_fd_ = fds[0];
    reader_ = std::thread([this] {
        std::array<char, 4096> buffer{};
        for (;;) {
            const ssize_t n = read(read_fd_, buffer.data(), buffer.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            const std::lock_guard<std::mutex> lock(mutex_);
            if (n <= 0) {
                eof_ = true;
                changed_.notify_all();
                return;
            }
            // Bounded: the server is ours, but a chatty one must not eat memory.
            if (output_.size() < std::size_t{8} * 1024 * 1024) {
                output_.append(buffer.data(), static_cast<std::size_t>(n));
            }
            changed_.notify_all();
        }
    });

    std::unique_lock<std::mutex> lock(mutex_);
    const bool ready = changed_.wait_for(lock, kStartTimeout, [&] {
        port_ = parse_port(output_);
        return port_ != 0 || eof_;
    });
    if (port_ != 0) {
        return true;
    }
    const std::string output = output_;
    lock.unlock();
    stop();
    why = "ldns-testns " + datafile + " did not report a port" +
          (ready ? " before exiting" : " in time") + "; its output:\n" + output;
    return false;
}

bool TestNameServer::wait_output(const std::function<bool(const std::string&)>& pred,
                                 std::chrono::milliseconds limit) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return pred(output_) || eof_; }) && pred(output_);
}

TestNameServer::~TestNameServer() {
    stop();
}

void TestNameServer::stop() noexcept {
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        int status = 0;
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }
    // The server was the only writer, so the reader now sees end of file.
    if (reader_.joinable()) {
        reader_.join();
    }
    if (read_fd_ >= 0) {
        close(read_fd_);
        read_fd_ = -1;
    }
}

std::string TestNameServer::forwarder() const {
    return "127.0.0.1@" + std::to_string(port_);
}

std::string TestNameServer::output() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return output_;
}

SilentUdpServer::SilentUdpServer() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        throw errno_error("socket");
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = 0;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    // NOLINTNEXTLINE: the sockets API takes sockaddr_in as sockaddr.
    auto* generic = reinterpret_cast<sockaddr*>(&address);
    if (bind(fd_, generic, length) != 0 || getsockname(fd_, generic, &length) != 0) {
        const auto error = errno_error("binding a UDP socket on 127.0.0.1");
        close(fd_);
        throw error;
    }
    port_ = ntohs(address.sin_port);
}

SilentUdpServer::~SilentUdpServer() {
    close(fd_);
}

std::string SilentUdpServer::forwarder() const {
    return "127.0.0.1@" + std::to_string(port_);
}

std::string write_unbound_config(const std::string& extra) {
    static TempDir dir;
    static std::atomic<int> counter{0};
    const auto path = dir.path() / ("unbound-" + std::to_string(++counter) + ".conf");
    std::ofstream out(path);
    // libunbound answers these zones itself by default (RFC 6761 "test.",
    // AS112 reverse zones of loopback and documentation ranges); the tests
    // need the queries to reach the test server.
    out << "server:\n";
    for (const char* zone :
         {"127.in-addr.arpa.", "2.0.192.in-addr.arpa.", "8.b.d.0.1.0.0.2.ip6.arpa.", "test."}) {
        out << "    local-zone: \"" << zone << "\" transparent\n";
    }
    out << "    unblock-lan-zones: yes\n"
        << "    insecure-lan-zones: yes\n"
        << extra << "\n";
    out.close();
    if (!out) {
        throw std::runtime_error("cannot write " + path.string());
    }
    return path.string();
}

resolver::ResolverOptions forward_to(const std::string& forwarder,
                                     std::chrono::milliseconds timeout,
                                     const std::string& unbound_extra) {
    resolver::ResolverOptions options;
    options.upstream = resolver::ResolverOptions::Upstream::forward;
    options.forwarders = {forwarder};
    options.unbound_config = write_unbound_config(unbound_extra);
    options.timeout = timeout;
    return options;
}

bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        if (io.run_one_until(deadline) == 0 && io.stopped()) {
            io.restart();
        }
    }
    return done();
}

}  // namespace testing_support
