#include "policyd/daemon/logging.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "policyd/base/ascii.hpp"
#include "policyd/base/sanitize.hpp"
#include "policyd/metrics/alarms.hpp"

namespace policyd {
namespace {

int syslog_priority(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::trace:
        case spdlog::level::debug:
            return LOG_DEBUG;
        case spdlog::level::info:
            return LOG_INFO;
        case spdlog::level::warn:
            return LOG_WARNING;
        case spdlog::level::err:
            return LOG_ERR;
        case spdlog::level::critical:
            return LOG_CRIT;
        case spdlog::level::off:
        case spdlog::level::n_levels:
            break;
    }
    return LOG_INFO;
}

// Sends "FIELD=value" strings as one entry; a failure is not ours to report
// (there is nowhere left to report it).
void send(const std::vector<std::string>& fields) {
    std::vector<iovec> vector(fields.size());
    for (std::size_t i = 0; i < fields.size(); ++i) {
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): iovec is not const-correct
        vector[i].iov_base = const_cast<char*>(fields[i].data());
        vector[i].iov_len = fields[i].size();
    }
    static_cast<void>(sd_journal_sendv(vector.data(), static_cast<int>(vector.size())));
}

// Reject and defer are the policy at work: notice. The [outage] action lets
// mail through unchecked: warning.
int decision_priority(const DecisionRecord& record) {
    const std::string_view answer = record.decision.answer();
    if (record.decision.rule_id == "outage") {
        return LOG_WARNING;
    }
    if (!answer.empty() && (answer.front() == '4' || answer.front() == '5' ||
                            istarts_with(answer, "REJECT") || istarts_with(answer, "DEFER"))) {
        return LOG_NOTICE;
    }
    return LOG_INFO;
}

// "192.0.2.1 HELO mail.example.com, PTR mail.example.com, iprev pass: rule
// reject-no-ptr: 550 5.7.25 ...", sanitised: reads on its own in journalctl.
std::string decision_message(const DecisionRecord& record) {
    const Facts& facts = record.facts;
    const rules::Decision& decision = record.decision;
    std::string out = "decision: ";
    append_sanitized(out, record.request.get(Attr::client_address));
    out += " HELO ";
    const auto helo = record.request.get(Attr::helo_name);
    append_sanitized(out, helo.empty() ? std::string_view("(none)") : helo);
    out += ", PTR ";
    const std::string_view ptr = representative_ptr(facts);
    append_sanitized(out, ptr.empty() ? std::string_view("(none)") : ptr);
    out += ", iprev ";
    out += to_string(facts.iprev);
    out += ": rule ";
    out += decision.rule_id;
    out += ": ";
    append_sanitized(out, decision.answer(), kMaxJournalValue);
    if (decision.dry_run) {
        out += " (dry run; the table says ";
        append_sanitized(out, decision.action, kMaxJournalValue);
        out += ")";
    }
    for (const auto& hit : decision.shadow) {
        out += " [shadow ";
        out += hit.rule_id;
        out += "]";
    }
    if (record.dns_outage) {
        out += " [dns outage]";
    }
    return out;
}

class TextDecisionLog final : public DecisionLog {
  public:
    [[nodiscard]] bool wanted() const override { return spdlog::should_log(spdlog::level::info); }
    void write(const DecisionRecord& record) override { spdlog::info(format_decision(record)); }
};

class JournalDecisionLog final : public DecisionLog {
  public:
    [[nodiscard]] bool wanted() const override { return spdlog::should_log(spdlog::level::info); }
    void write(const DecisionRecord& record) override { socket_.send(journal_fields(record)); }

  private:
    JournalSocket socket_;
};

}  // namespace

JournalSocket::JournalSocket(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (fd_ < 0 || path.size() >= sizeof address.sun_path) {
        return;
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd_);
        fd_ = -1;  // no journal there: every entry counts as dropped
    }
}

JournalSocket::~JournalSocket() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

bool JournalSocket::send(const std::vector<std::string>& fields) {
    buffer_.clear();
    for (const auto& field : fields) {
        buffer_ += field;
        buffer_ += '\n';
    }
    if (fd_ >= 0 && ::send(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_NOSIGNAL) ==
                        static_cast<ssize_t>(buffer_.size())) {
        return true;
    }
    ++dropped_;
    const auto now = std::chrono::steady_clock::now();
    if (dropped_ - reported_ >= 1 &&
        (reported_ == 0 || now - last_report_ >= std::chrono::minutes(1))) {
        spdlog::warn(
            "journal: {} decision entries dropped so far (journald did not take them "
            "at once; [log] decisions = \"not-dunno\" logs fewer)",
            dropped_);
        reported_ = dropped_;
        last_report_ = now;
    }
    return false;
}

bool journal_wanted(std::string_view target) {
    if (target == "journal") {
        return true;
    }
    if (target != "auto") {
        return false;
    }
    // systemd sets JOURNAL_STREAM=DEVICE:INODE of the stream it connected;
    // it is inherited, so it counts only while stderr is still that stream.
    const char* stream = std::getenv("JOURNAL_STREAM");
    struct stat err {};
    if (stream == nullptr || ::fstat(STDERR_FILENO, &err) != 0) {
        return false;
    }
    return std::string(stream) == std::to_string(err.st_dev) + ":" + std::to_string(err.st_ino);
}

void JournalSink::sink_it_(const spdlog::details::log_msg& message) {
    std::string text = "MESSAGE=";
    append_sanitized(text, std::string_view(message.payload.data(), message.payload.size()), 4096);
    send({std::move(text), "PRIORITY=" + std::to_string(syslog_priority(message.level)),
          "SYSLOG_IDENTIFIER=rdns-policyd"});
}

void log_alarm(bool journal, std::string_view name, std::string_view state, std::string_view text) {
    const bool cleared = state == "cleared";
    if (!journal) {
        if (cleared) {
            spdlog::info("{}", text);
        } else {
            spdlog::warn("{}", text);
        }
        return;
    }
    std::string message = "MESSAGE=";
    append_sanitized(message, text, 4096);
    send({std::move(message), "PRIORITY=" + std::to_string(cleared ? LOG_INFO : LOG_WARNING),
          "SYSLOG_IDENTIFIER=rdns-policyd",
          std::string(kAlarmJournalField) + "=" + std::string(name),
          std::string(kAlarmStateJournalField) + "=" + std::string(state)});
}

std::vector<std::string> journal_fields(const DecisionRecord& record) {
    std::vector<std::string> fields;
    fields.reserve(40);
    fields.push_back("MESSAGE=" + decision_message(record));
    fields.push_back("PRIORITY=" + std::to_string(decision_priority(record)));
    fields.emplace_back("SYSLOG_IDENTIFIER=rdns-policyd");
    std::string scratch;
    for_each_field(record, scratch, [&fields](std::string_view key, std::string_view value) {
        std::string field = journal_field_name(key);
        field += '=';
        append_sanitized(field, value, kMaxJournalValue);
        fields.push_back(std::move(field));
    });
    return fields;
}

std::unique_ptr<DecisionLog> make_decision_log(bool journal) {
    if (journal) {
        return std::make_unique<JournalDecisionLog>();
    }
    return std::make_unique<TextDecisionLog>();
}

}  // namespace policyd
