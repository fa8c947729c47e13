#include "nsd_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace testing_support {

namespace {

// NSD reads a few small zones in well under a second; more is a broken
// machine or a broken zone, and the test should say so.
constexpr auto kStartTimeout = std::chrono::seconds(15);
// How long one readiness query waits for its answer before the next is sent.
constexpr auto kQueryInterval = std::chrono::milliseconds(100);
constexpr int kPortAttempts = 5;

std::system_error errno_error(const std::string& what) {
    return {errno, std::generic_category(), what};
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Closes the descriptor when it goes out of scope.
class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) {
            close(fd_);
        }
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

// A port free for both UDP and TCP on 127.0.0.1 right now (the sockets are
// closed again, so NSD may still lose a race for it; the caller retries).
std::uint16_t free_port() {
    for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
        const Fd udp(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        const Fd tcp(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (udp.get() < 0 || tcp.get() < 0) {
            throw errno_error("socket");
        }
        sockaddr_in address = loopback(0);
        socklen_t length = sizeof address;
        // NOLINTNEXTLINE: the sockets API takes sockaddr_in as sockaddr.
        auto* generic = reinterpret_cast<sockaddr*>(&address);
        if (bind(udp.get(), generic, length) != 0 ||
            getsockname(udp.get(), generic, &length) != 0) {
            throw errno_error("binding a UDP socket on 127.0.0.1");
        }
        if (bind(tcp.get(), generic, length) == 0) {
            return ntohs(address.sin_port);
        }
    }
    throw std::runtime_error("no port free for both UDP and TCP on 127.0.0.1");
}

// A DNS query for SOA of `zone` with the given id, no recursion desired.
std::string soa_query(const std::string& zone, std::uint16_t id) {
    std::string packet = {
        static_cast<char>(id >> 8), static_cast<char>(id & 0xff), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    std::istringstream labels(zone);
    for (std::string label; std::getline(labels, label, '.');) {
        if (!label.empty()) {
            packet.push_back(static_cast<char>(label.size()));
            packet += label;
        }
    }
    packet += std::string{0, 0, 6, 0, 1};  // root, type SOA, class IN
    return packet;
}

// Sends one SOA query and waits up to kQueryInterval for its answer.
bool answers_soa(int fd, const std::string& zone, std::uint16_t id) {
    const std::string query = soa_query(zone, id);
    if (send(fd, query.data(), query.size(), 0) < 0) {
        return false;
    }
    const auto until = std::chrono::steady_clock::now() + kQueryInterval;
    for (auto now = std::chrono::steady_clock::now(); now < until;
         now = std::chrono::steady_clock::now()) {
        pollfd waiter{fd, POLLIN, 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
        if (poll(&waiter, 1, static_cast<int>(left.count()) + 1) <= 0) {
            continue;
        }
        std::array<unsigned char, 512> reply{};
        const ssize_t n = recv(fd, reply.data(), reply.size(), 0);
        // An error here is the ICMP "port unreachable" of a server not yet
        // listening: keep waiting out the interval, then ask again.
        if (n >= 12 && reply[0] == (id >> 8) && reply[1] == (id & 0xff) && (reply[2] & 0x80) != 0) {
            return true;
        }
    }
    return false;
}

}  // namespace

TestNsd::TestNsd(std::vector<Zone> zones) : zones_(std::move(zones)) {
    if (zones_.empty()) {
        throw std::runtime_error("TestNsd needs at least one zone");
    }
    std::string pattern = (std::filesystem::temp_directory_path() / "rdns-nsd-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
        throw errno_error("mkdtemp " + pattern);
    }
    dir_ = pattern;
    try {
        for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
            if (start(free_port())) {
                return;
            }
        }
        throw std::runtime_error("nsd did not start; its output:\n" + output());
    } catch (...) {
        stop();
        throw;
    }
}

TestNsd::~TestNsd() {
    stop();
}

bool TestNsd::start(std::uint16_t port) {
    const auto conf = dir_ / "nsd.conf";
    {
        std::ofstream out(conf);
        // Everything NSD writes stays in dir_; with username "" it keeps the
        // caller's identity, so it runs as root or not.
        out << "server:\n"
            << "    ip-address: 127.0.0.1\n"
            << "    port: " << port << "\n"
            << "    username: \"\"\n"
            << "    chroot: \"\"\n"
            << "    database: \"\"\n"
            << "    zonesdir: \"" << dir_.string() << "\"\n"
            << "    pidfile: \"" << (dir_ / "nsd.pid").string() << "\"\n"
            << "    xfrdfile: \"" << (dir_ / "xfrd.state").string() << "\"\n"
            << "    zonelistfile: \"" << (dir_ / "zone.list").string() << "\"\n"
            << "    logfile: \"" << (dir_ / "nsd.log").string() << "\"\n"
            << "    server-count: 1\n"
            << "    verbosity: 1\n"
            << "remote-control:\n"
            << "    control-enable: no\n";
        for (const auto& zone : zones_) {
            out << "zone:\n"
                << "    name: \"" << zone.name << "\"\n"
                << "    zonefile: \"" << zone.file << "\"\n";
        }
        out.close();
        if (!out) {
            throw std::runtime_error("cannot write " + conf.string());
        }
    }
    const std::string out_file = (dir_ / "nsd.out").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    // Its own process group: NSD forks a transfer daemon and server children,
    // and the destructor must be able to kill them all at once.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    // setpriv (util-linux, essential) execs NSD with a parent-death signal,
    // so a test binary that is killed (Ctrl-C, a closed pipe) takes NSD and,
    // through it, its children along instead of leaving them running.
    std::vector<std::string> words = {"setpriv", "--pdeathsig", "KILL",       "nsd",
                                      "-d",      "-c",          conf.string()};
    std::vector<char*> argv;
    argv.reserve(words.size() + 1);
    for (auto& word : words) {
        argv.push_back(word.data());
    }
    argv.push_back(nullptr);
    const int err = posix_spawnp(&pid_, argv[0], &actions, &attributes, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (err != 0) {
        pid_ = -1;
        throw std::system_error(err, std::generic_category(), "spawning nsd");
    }

    const Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const sockaddr_in address = loopback(port);
    // NOLINTNEXTLINE: the sockets API takes sockaddr_in as sockaddr.
    if (fd.get() < 0 ||
        connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        throw errno_error("UDP socket towards nsd");
    }
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    for (std::uint16_t id = 1; std::chrono::steady_clock::now() < deadline; ++id) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            // Exited, e.g. the port was taken meanwhile; its children go too.
            kill(-pid_, SIGKILL);
            pid_ = -1;
            return false;
        }
        if (answers_soa(fd.get(), zones_.front().name, id)) {
            port_ = port;
            return true;
        }
    }
    throw std::runtime_error("nsd did not answer on port " + std::to_string(port) +
                             " in time; its output:\n" + output());
}

void TestNsd::stop() noexcept {
    if (pid_ > 0) {
        kill(-pid_, SIGKILL);  // the process group: NSD and its children
        int status = 0;
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }
    if (!dir_.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
        dir_.clear();
    }
}

std::string TestNsd::forwarder() const {
    return "127.0.0.1@" + std::to_string(port_);
}

std::string TestNsd::output() const {
    return read_file(dir_ / "nsd.out") + read_file(dir_ / "nsd.log");
}

void run_bounded(const std::vector<std::string>& argv, std::chrono::seconds limit) {
    if (argv.empty()) {
        throw std::runtime_error("run_bounded: no program");
    }
    // coreutils timeout(1) bounds the wait below: it kills the program at the
    // limit, so waitpid returns.
    std::vector<std::string> words = {"timeout", "-s", "KILL", std::to_string(limit.count())};
    words.insert(words.end(), argv.begin(), argv.end());
    std::vector<char*> args;
    args.reserve(words.size() + 1);
    for (auto& word : words) {
        args.push_back(word.data());
    }
    args.push_back(nullptr);
    char out_template[] = "/tmp/rdns-run-XXXXXX";
    const int out_fd = mkstemp(out_template);
    if (out_fd < 0) {
        throw errno_error("mkstemp");
    }
    const std::string out_file = out_template;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
    pid_t pid = -1;
    const int err = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out_fd);
    int status = 0;
    if (err == 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    const std::string output = read_file(out_file);
    unlink(out_file.c_str());
    if (err != 0) {
        throw std::system_error(err, std::generic_category(), "spawning " + argv[0]);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error(argv[0] + " failed (status " + std::to_string(status) +
                                 "); its output:\n" + output);
    }
}

}  // namespace testing_support
