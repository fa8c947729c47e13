// rdns-policyd: command line, start-up and the event loop.
//
// Exceptions from start-up (configuration, listeners, resolver) are caught
// here once and turned into a message and an exit status.
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policyd/base/ascii.hpp"
#include "policyd/base/dns_name.hpp"
#include "policyd/base/sanitize.hpp"
#include "policyd/config/settings.hpp"
#include "policyd/daemon/log_sink.hpp"
#include "policyd/daemon/logging.hpp"
#include "policyd/daemon/server.hpp"
#include "policyd/tools/doctor.hpp"
#include "policyd/tools/explain.hpp"
#include "policyd/tools/postfix_check.hpp"
#include "policyd/tools/print_defaults.hpp"
#include "policyd/tools/report.hpp"
#include "policyd/tools/rule_cases.hpp"
#include "policyd/tools/usage.hpp"
#include "rules/conditions.hpp"
#include "rules/profiles.hpp"
#include "rules/rules.hpp"

namespace {

// Exit statuses (documented in --help and the README).
constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;  // could not start serving (listen, resolver)
constexpr int kExitConfig = 2;   // configuration does not parse or validate
constexpr int kExitUsage = 64;   // command line is wrong (EX_USAGE)

constexpr std::string_view kDefaultConfig = "/etc/rdns-policyd/rdns-policyd.toml";

struct CommandLine {
    // serve | check-config | print-defaults | explain | test | report | doctor
    std::string command = "serve";
    std::string config{kDefaultConfig};
    bool stdio = false;
    policyd::Overrides overrides;
    policyd::ExplainRequest explain;
    std::vector<std::string> positional;
    // report: the range as written (parsed once the command line is whole).
    std::string since = "-24h";
    std::string until = "now";
    policyd::ReportOptions report;
    std::string profile;  // print-defaults --profile NAME
    policyd::DoctorRequest doctor;
};

// "--sender" -> Attr::sender: every request attribute a rule condition
// looks at (rules/conditions.hpp) but the HELO name, which is positional.
std::optional<policyd::Attr> explain_attribute(std::string_view arg) {
    if (!arg.starts_with("--")) {
        return std::nullopt;
    }
    std::string name(arg.substr(2));
    std::replace(name.begin(), name.end(), '-', '_');
    const auto attr = policyd::attr_from_name(name);
    const auto known = rules::condition_attributes();
    if (!attr || *attr == policyd::Attr::helo_name ||
        std::find(known.begin(), known.end(), *attr) == known.end()) {
        return std::nullopt;
    }
    return attr;
}

// Returns the exit status to use now, or -1 to go on.
int parse_command_line(int argc, char** argv, CommandLine& line) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        auto value = [&](std::string_view option) -> std::string {
            if (i + 1 >= args.size()) {
                std::cerr << "rdns-policyd: " << option << " needs a value\n" << policyd::usage();
                throw std::invalid_argument("usage");
            }
            return std::string(args[++i]);
        };
        if (arg == "--help" || arg == "-h") {
            std::cout << policyd::usage();
            return kExitOk;
        }
        if (arg == "--version") {
            std::cout << "rdns-policyd " << RDNS_POLICYD_VERSION << "\n";
            return kExitOk;
        }
        // "test" only as the command itself: `explain 192.0.2.1 test` means HELO "test".
        if (arg == "check-config" || arg == "print-defaults" || arg == "explain" ||
            (arg == "doctor" && line.command == "serve") ||
            (arg == "report" && line.command == "serve") ||
            (arg == "test" && line.command == "serve")) {
            line.command = std::string(arg);
            continue;
        }
        if (line.command == "doctor") {
            std::string error;
            const auto taken = policyd::doctor_option(args, i, line.doctor, error);
            if (taken == policyd::OptionResult::error) {
                std::cerr << "rdns-policyd: " << error << "\n" << policyd::usage();
                return kExitUsage;
            }
            if (taken == policyd::OptionResult::taken) {
                continue;
            }
        }
        if (arg == "--config") {
            line.config = value(arg);
        } else if (arg == "--listen") {
            line.overrides.listen.push_back(value(arg));
        } else if (arg == "--forwarder") {
            line.overrides.forwarders.push_back(value(arg));
        } else if (arg == "--unbound-config") {
            line.overrides.unbound_config = value(arg);
        } else if (arg == "--stdio") {
            line.stdio = true;
        } else if (line.command == "print-defaults" && arg == "--profile") {
            line.profile = value(arg);
            if (rules::find_profile(line.profile) == nullptr) {
                std::cerr << "rdns-policyd: no profile \"" << policyd::sanitized(line.profile)
                          << "\"; there are observe, rfc and strict\n";
                return kExitUsage;
            }
        } else if (const auto attr = explain_attribute(arg)) {
            line.explain.attributes.emplace_back(*attr, value(arg));
        } else if (arg == "--json") {
            line.explain.json = true;
            line.report.json = true;
            line.doctor.json = true;
        } else if (line.command == "report" && arg == "--since") {
            line.since = value(arg);
        } else if (line.command == "report" && arg == "--until") {
            line.until = value(arg);
        } else if (line.command == "report" && arg == "--unit") {
            line.report.unit = value(arg);
        } else if (line.command == "report" && arg == "--directory") {
            line.report.directory = value(arg);
        } else if (line.command == "report" && arg == "--top") {
            const std::string top = value(arg);
            std::size_t n = 0;
            const auto [end, ec] = std::from_chars(top.data(), top.data() + top.size(), n);
            if (ec != std::errc() || end != top.data() + top.size() || n == 0 || n > 10000) {
                std::cerr << "rdns-policyd: --top needs a number from 1 to 10000\n";
                return kExitUsage;
            }
            line.report.top = n;
        } else if (!arg.starts_with("-") &&
                   ((line.command == "explain" && line.positional.size() < 2) ||
                    (line.command == "test" && line.positional.empty()))) {
            // explain ADDRESS [HELO]; test FILE
            line.positional.emplace_back(arg);
        } else {
            std::cerr << "rdns-policyd: unknown argument \"" << arg << "\"\n" << policyd::usage();
            return kExitUsage;
        }
    }
    if (line.command != "explain" && !line.explain.attributes.empty()) {
        std::cerr << "rdns-policyd: --" << policyd::attr_name(line.explain.attributes[0].first)
                  << " (a request attribute) is an option of explain only\n"
                  << policyd::usage();
        return kExitUsage;
    }
    if (line.command == "explain") {
        if (line.positional.empty()) {
            std::cerr << "rdns-policyd: explain needs CLIENT_IP\n" << policyd::usage();
            return kExitUsage;
        }
        line.explain.client_address = line.positional[0];
        line.explain.helo_name = line.positional.size() > 1 ? line.positional[1] : "";
    }
    if (line.command == "doctor") {
        if (const std::string problem = policyd::doctor_request_error(line.doctor);
            !problem.empty()) {
            std::cerr << "rdns-policyd: " << problem << "\n" << policyd::usage();
            return kExitUsage;
        }
    }
    if (line.command == "test" && line.positional.empty()) {
        std::cerr << "rdns-policyd: test needs CASES\n" << policyd::usage();
        return kExitUsage;
    }
    if (line.command == "report") {
        const auto now =
            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
        for (auto [text, out] : {std::pair{&line.since, &line.report.since_usec},
                                 std::pair{&line.until, &line.report.until_usec}}) {
            std::string why;
            const auto usec = policyd::parse_report_time(*text, now, why);
            if (!usec) {
                std::cerr << "rdns-policyd report: " << why << "\n";
                return kExitUsage;
            }
            *out = *usec;
        }
        if (line.report.until_usec <= line.report.since_usec) {
            std::cerr << "rdns-policyd report: --until must be after --since\n";
            return kExitUsage;
        }
    }
    return -1;
}

// True when stderr is the very file stdout is: Postfix's spawn(8) connects
// the client socket to stdin, stdout and stderr alike.
bool stderr_is_stdout() {
    struct stat out {};
    struct stat err {};
    return ::fstat(STDOUT_FILENO, &out) == 0 && ::fstat(STDERR_FILENO, &err) == 0 &&
           out.st_dev == err.st_dev && out.st_ino == err.st_ino;
}

// Returns the batching sink, or null when logging goes to the journal or
// to syslog.
std::shared_ptr<policyd::BatchingSink> set_up_logging(bool stdio, bool journal) {
    if (journal) {
        // One entry per line, with its priority (policyd/daemon/logging.hpp).
        auto logger = std::make_shared<spdlog::logger>("rdns-policyd",
                                                       std::make_shared<policyd::JournalSink>());
        spdlog::set_default_logger(logger);
        return nullptr;
    }
    if (stdio && stderr_is_stdout()) {
        // Under spawn(8) a line on stderr would be read by smtpd as part of
        // the policy reply: log to syslog (the mail facility) instead.
        auto logger = spdlog::syslog_logger_st("rdns-policyd", "rdns-policyd", LOG_PID, LOG_MAIL);
        logger->set_pattern("%l: %v");
        spdlog::set_default_logger(logger);
        return nullptr;
    }
    // Text on stderr: journald adds its own timestamps under systemd, and
    // stdout is the protocol channel in --stdio mode.
    auto sink = std::make_shared<policyd::BatchingSink>(STDERR_FILENO);
    auto logger = std::make_shared<spdlog::logger>("rdns-policyd", sink);
    // The pid is written in once: spdlog's %P calls getpid() per line.
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e rdns-policyd[" + std::to_string(::getpid()) +
                        "]: %l: %v");
    // Decisions (info) leave in batches; trouble at once.
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(logger);
    return sink;
}

// Unhooks the sink from the event loop before the loop goes, however the
// block that owns both is left.
struct Unhook {
    explicit Unhook(std::shared_ptr<policyd::BatchingSink> s) : sink(std::move(s)) {}
    std::shared_ptr<policyd::BatchingSink> sink;
    ~Unhook() {
        if (sink) {
            sink->set_schedule(nullptr);
        }
    }
    Unhook(const Unhook&) = delete;
    Unhook& operator=(const Unhook&) = delete;
};

}  // namespace

int main(int argc, char** argv) {
    CommandLine line;
    try {
        if (const int status = parse_command_line(argc, argv, line); status >= 0) {
            return status;
        }
    } catch (const std::invalid_argument&) {
        return kExitUsage;
    }
    if (line.command == "print-defaults") {
        if (!line.profile.empty()) {
            std::cout << rules::find_profile(line.profile)->text;
        } else {
            policyd::print_defaults(std::cout);
        }
        return kExitOk;
    }
    if (line.command == "report") {
        try {
            return policyd::run_report(line.report, std::cout, std::cerr);
        } catch (const std::exception& error) {
            std::cerr << "rdns-policyd report: " << error.what() << "\n";
            return kExitRuntime;
        }
    }

    std::vector<std::string> errors;
    auto config = policyd::load_config(line.config, line.overrides, errors);
    if (!config) {
        for (const auto& error : errors) {
            std::cerr << error << "\n";
        }
        std::cerr << "rdns-policyd: " << errors.size() << " error(s) in " << line.config << "\n";
        return kExitConfig;
    }
    if (line.command == "doctor") {
        try {
            return policyd::run_doctor(*config, line.doctor, std::cout, std::cerr);
        } catch (const std::exception& error) {
            std::cerr << "rdns-policyd doctor: " << error.what() << "\n";
            return kExitRuntime;
        }
    }
    if (line.command == "explain") {
        try {
            return policyd::explain(*config, line.explain, std::cout);
        } catch (const std::exception& error) {
            std::cerr << "rdns-policyd explain: " << error.what() << "\n";
            return kExitRuntime;
        }
    }
    if (line.command == "test") {
        try {
            return policyd::test_rule_cases(*config, line.positional[0], std::cout, std::cerr);
        } catch (const std::exception& error) {
            // Only the live lookups of `lookup = true` cases throw (resolver
            // or Public Suffix List set-up).
            std::cerr << "rdns-policyd test: " << error.what() << "\n";
            return kExitRuntime;
        }
    }
    if (line.command == "check-config") {
        std::cout << line.config << ": ok (" << config->rules->size() << " rules)\n";
        for (const auto& warning :
             policyd::restriction_class_warnings(config->rules->restriction_classes())) {
            std::cerr << line.config << ": warning: " << warning << "\n";
        }
        return kExitOk;
    }

    // A peer (or a log reader) that went away must cost an EPIPE, not the
    // process.
    static_cast<void>(::signal(SIGPIPE, SIG_IGN));
    const auto sink =
        set_up_logging(line.stdio, policyd::journal_wanted(config->settings.log_target));
    spdlog::set_level(spdlog::level::from_str(config->settings.log_level));
    try {
        boost::asio::io_context io(1);
        const Unhook unhook{sink};
        // The lines logged while the loop handles one batch of ready events
        // are written together, after them.
        if (sink) {
            sink->set_schedule(
                [&io] { boost::asio::post(io, [] { spdlog::default_logger_raw()->flush(); }); });
        }
        policyd::Server server(io, std::make_shared<const policyd::Config>(std::move(*config)),
                               line.overrides);
        server.handle_signals();
        if (line.stdio) {
            server.serve_stdio();
        } else {
            server.listen();
        }
        io.run();
        spdlog::info("stopped");
    } catch (const std::exception& error) {
        spdlog::critical("{}", error.what());
        return kExitRuntime;
    }
    spdlog::default_logger_raw()->flush();
    return kExitOk;
}
