#include "policyd/tools/postfix_check.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "policyd/base/sanitize.hpp"

namespace policyd {

namespace {

constexpr std::size_t kMaxPostconfOutput = 1U << 20U;

}  // namespace

std::vector<std::string> parse_restriction_classes(const std::string& value) {
    std::vector<std::string> names;
    std::string current;
    for (const char c : value + " ") {
        if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
            if (!current.empty()) {
                names.push_back(std::move(current));
                current.clear();
            }
        } else {
            current += c;
        }
    }
    return names;
}

PostconfValues postconf_values(std::string_view config_dir, const std::vector<std::string>& names) {
    PostconfValues result;
    std::vector<std::string> args{"postconf", "-x", "-h"};
    if (!config_dir.empty()) {
        args.emplace_back("-c");
        args.emplace_back(config_dir);
    }
    args.insert(args.end(), names.begin(), names.end());
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& arg : args) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);

    std::array<int, 2> pipe{-1, -1};
    if (::pipe2(pipe.data(), O_CLOEXEC) != 0) {
        result.error = std::string("cannot run postconf: ") + std::strerror(errno);
        return result;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int spawned = ::posix_spawnp(&pid, "postconf", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe[1]);
    if (spawned != 0) {
        ::close(pipe[0]);
        result.error =
            std::string("cannot run postconf (no Postfix here?): ") + std::strerror(spawned);
        return result;
    }
    std::string output;
    std::array<char, 4096> buffer{};
    for (;;) {
        const ssize_t n = ::read(pipe[0], buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        if (output.size() < kMaxPostconfOutput) {
            output.append(buffer.data(), static_cast<std::size_t>(n));
        }
    }
    ::close(pipe[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        result.error = "postconf failed" +
                       (config_dir.empty() ? std::string() : " for " + sanitized(config_dir)) +
                       " (no Postfix configuration there?)";
        return result;
    }
    std::size_t start = 0;
    while (start < output.size() && result.values.size() < names.size()) {
        const std::size_t end = output.find('\n', start);
        result.values.push_back(output.substr(start, end - start));
        start = end == std::string::npos ? output.size() : end + 1;
    }
    result.values.resize(names.size());
    result.ok = true;
    return result;
}

std::vector<std::string> restriction_class_warnings(const std::vector<std::string>& classes) {
    std::vector<std::string> warnings;
    if (classes.empty()) {
        return warnings;
    }
    const PostconfValues answer = postconf_values({}, {"smtpd_restriction_classes"});
    if (!answer.ok) {
        warnings.push_back(answer.error +
                           ": restriction classes not compared with Postfix's "
                           "smtpd_restriction_classes");
        return warnings;
    }
    const std::string& output = answer.values.front();
    const std::vector<std::string> defined = parse_restriction_classes(output);
    for (const std::string& name : classes) {
        if (std::find(defined.begin(), defined.end(), name) == defined.end()) {
            warnings.push_back("restriction class " + name +
                               " is not in Postfix's smtpd_restriction_classes (postconf -h "
                               "smtpd_restriction_classes: \"" +
                               output.substr(0, output.find('\n')) +
                               "\"); Postfix answers an action naming it with a 451 error");
        }
    }
    return warnings;
}

}  // namespace policyd
