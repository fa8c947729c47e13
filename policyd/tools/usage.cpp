#include "policyd/tools/usage.hpp"

#include <algorithm>
#include <string_view>

#include "policyd/protocol/request.hpp"
#include "rules/conditions.hpp"

namespace policyd {
namespace {

constexpr std::string_view kUsage = R"(Usage:
  rdns-policyd [--config FILE] [OPTIONS]          serve in the foreground
  rdns-policyd --stdio [--config FILE] [OPTIONS]  serve one session on stdin/stdout (spawn(8))
  rdns-policyd check-config [--config FILE] [OPTIONS]
                                                  validate the configuration and exit
  rdns-policyd explain CLIENT_IP [HELO] [--ATTRIBUTE VALUE ...] [--json]
               [--config FILE] [OPTIONS]
                                                  look the client up now and show every DNS
                                                  answer, fact and rule, and the action;
                                                  --ATTRIBUTE is any request attribute a rule
                                                  can test: {attributes}
  rdns-policyd test CASES [--config FILE] [OPTIONS]
                                                  run the rule table against the cases in
                                                  CASES (TOML) and report ok / FAIL for each
  rdns-policyd report [--since TIME] [--until TIME] [--unit UNIT] [--directory DIR]
               [--top N] [--json]
                                                  what the daemon decided, from the journal:
                                                  decisions by rule, top rejected clients and
                                                  domains, shadow rules, alarms, rejections
                                                  per hour; TIME: YYYY-MM-DD [HH:MM[:SS]],
                                                  today, yesterday, now, -24h, "2d ago"
                                                  (default: the last 24 hours)
  rdns-policyd doctor HOST[:PORT]... [--mx DOMAIN]... [--port N] [--ehlo-as NAME]
               [--timeout SECONDS] [--dnsbl ZONE]... [--json]
  rdns-policyd doctor --ip IP --helo NAME [--dnsbl ZONE]... [--json]
  rdns-policyd doctor --postfix [CONFIG_DIR] [--ip IP] [--dnsbl ZONE]... [--json]
                                                  audit a mail server's own PTR, banner,
                                                  EHLO reply, HELO and blocklist entries as
                                                  receivers judge them: HOST (every address
                                                  of a name; [IPv6]:PORT) and the MX hosts
                                                  of DOMAIN are connected to (EHLO, QUIT);
                                                  --ip/--helo and --postfix (what postconf
                                                  says this Postfix announces) are not;
                                                  --port 25 and --timeout 30 by default;
                                                  exit 0 good, 1 warnings, 2 failures,
                                                  3 could not check
  rdns-policyd print-defaults                     print every setting with its default
  rdns-policyd print-defaults --profile NAME      print the rules of profile observe, rfc or
                                                  strict ([policy] profile)
  rdns-policyd --help | --version

Options (they override the configuration file):
  --config FILE          configuration file (default /etc/rdns-policyd/rdns-policyd.toml)
  --listen ENDPOINT      serve ENDPOINT instead of daemon.listen; repeatable.
                         inet:127.0.0.1:10045, inet:[::1]:10045, unix:/path/to/socket;
                         port 0 lets the system choose (the log says which)
  --forwarder IP[@PORT]  send DNS queries to this forwarder; repeatable; implies
                         resolver.upstream = "forward"
  --unbound-config FILE  libunbound configuration file (resolver.unbound_config)

Signals:
  SIGTERM, SIGINT  stop accepting, finish requests in progress, exit 0
  SIGHUP           reload the configuration (a bad file keeps the running one)
  SIGUSR1          log every rule's hit counters

Exit status:
  0   success (served until SIGTERM, or the configuration is valid)
  1   could not start serving (an endpoint could not be bound, the resolver failed)
  1   (test) some case failed
  2   the configuration does not parse or validate (each error printed as file:line: message);
      for test, also the case file
  64  the command line is wrong
)";

}  // namespace

// kUsage with the explain options filled in from the condition table.
std::string usage() {
    std::string options;
    std::size_t column = 60;  // where {attributes} starts in its line
    for (const auto attr : rules::condition_attributes()) {
        if (attr == Attr::helo_name) {
            continue;
        }
        std::string option = "--" + std::string(attr_name(attr));
        std::replace(option.begin(), option.end(), '_', '-');
        if (!options.empty()) {
            options += ",";
            ++column;
            if (column + option.size() + 1 > 96) {
                options += "\n" + std::string(50, ' ');
                column = 50;
            } else {
                options += " ";
                ++column;
            }
        }
        options += option;
        column += option.size();
    }
    std::string text(kUsage);
    const auto at = text.find("{attributes}");
    return text.replace(at, std::string_view("{attributes}").size(), options);
}

}  // namespace policyd
