#include "policyd/tools/rule_cases.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>
#include <utility>

#include "policyd/answer/responder.hpp"
#include "policyd/base/sanitize.hpp"
#include "policyd/checks/helo.hpp"
#include "policyd/config/stack.hpp"
#include "policyd/config/toml_text.hpp"
#include "rules/conditions.hpp"

namespace policyd {
namespace {

// The request attributes a case may set: every one a rule condition looks
// at (rules/conditions.hpp), and the message's instance.
const std::vector<Attr>& case_attributes() {
    static const std::vector<Attr> attrs = [] {
        auto list = rules::condition_attributes();
        list.push_back(Attr::instance);
        return list;
    }();
    return attrs;
}

// Besides the facts of kFactFields and those attributes.
constexpr std::string_view kOtherKeys[] = {"name",           "client_address", "lookup",
                                           "expect_rule",    "expect_action",  "ptr_names",
                                           "verified_names", "dnsbl_listed"};

class CaseReader {
  public:
    explicit CaseReader(std::string_view source) : source_(source) {}

    void error(const toml::node& node, const std::string& message) {
        errors_.emplace_back(
            node.source().begin.line,
            source_ + ":" + std::to_string(node.source().begin.line) + ": " + message);
    }

    [[nodiscard]] bool failed() const { return !errors_.empty(); }

    // In file order: a case is checked key by key, not line by line.
    void report(std::vector<std::string>& errors) {
        std::stable_sort(errors_.begin(), errors_.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        for (auto& [line, message] : errors_) {
            errors.push_back(std::move(message));
        }
    }

    // The string at key, or nullopt (with an error if present but not a string).
    std::optional<std::string> string(const toml::table& table, std::string_view key) {
        const toml::node* node = table.get(key);
        if (node == nullptr) {
            return std::nullopt;
        }
        if (const auto* value = node->as_string()) {
            return value->get();
        }
        error(*node, std::string(key) + ": must be a string");
        return std::nullopt;
    }

    // A fact's word; returns true if the key was present (valid or not), so
    // the caller knows the fact was given.
    bool fact(const toml::table& table, const FactField& field, Facts& into) {
        const toml::node* node = table.get(field.name);
        if (node == nullptr) {
            return false;
        }
        if (const auto word = string(table, field.name)) {
            if (const auto index = field.parse(*word)) {
                field.set(into, *index);
            } else {
                error(*node,
                      std::string(field.name) + ": unknown value \"" + sanitized(*word) + "\"");
            }
        }
        return true;
    }

    bool names(const toml::table& table, std::string_view key, std::vector<std::string>& into) {
        const toml::node* node = table.get(key);
        if (node == nullptr) {
            return false;
        }
        const auto* array = node->as_array();
        if (array == nullptr) {
            error(*node, std::string(key) + ": must be a list of names");
            return true;
        }
        for (const auto& element : *array) {
            if (const auto* name = element.as_string()) {
                into.push_back(name->get());
            } else {
                error(element, std::string(key) + ": must be a list of names");
            }
        }
        return true;
    }

  private:
    std::string source_;
    std::vector<std::pair<unsigned, std::string>> errors_;
};

bool known_key(std::string_view key) {
    if (find_fact(key) != nullptr ||
        std::find(std::begin(kOtherKeys), std::end(kOtherKeys), key) != std::end(kOtherKeys)) {
        return true;
    }
    const auto attr = attr_from_name(key);
    const auto& attrs = case_attributes();
    return attr && std::find(attrs.begin(), attrs.end(), *attr) != attrs.end();
}

std::optional<RuleCase> read_case(CaseReader& reader, const toml::table& table,
                                  const std::vector<std::string>& rule_ids) {
    bool ok = true;
    RuleCase c;
    c.line = table.source().begin.line;
    for (const auto& [key, node] : table) {
        if (!known_key(key.str())) {
            reader.error(node, "unknown key " + sanitized(key.str()));
            ok = false;
        }
    }

    if (auto name = reader.string(table, "name"); name && !name->empty()) {
        c.name = std::move(*name);
    } else {
        reader.error(table, "[[case]] needs a name");
        ok = false;
    }

    const auto address = reader.string(table, "client_address");
    if (!address) {
        reader.error(table, "[[case]] needs a client_address");
        ok = false;
    } else if (const auto parsed = parse_ip(*address)) {
        c.client = *parsed;
    } else {
        reader.error(*table.get("client_address"),
                     "client_address: \"" + sanitized(*address) + "\" is not an IP address");
        ok = false;
    }

    c.request.set(Attr::request, "smtpd_access_policy");
    c.request.set(Attr::protocol_state, "RCPT");
    if (address) {
        c.request.set(Attr::client_address, *address);
    }
    for (const Attr attr : case_attributes()) {
        const auto key = attr_name(attr);
        const toml::node* node = table.get(key);
        if (node == nullptr) {
            continue;
        }
        // Postfix sends server_port as digits; TOML makes writing it as a
        // number natural, so both are accepted.
        if (const auto* number = node->as_integer()) {
            c.request.set(attr, std::to_string(number->get()));
        } else if (const auto value = reader.string(table, key)) {
            c.request.set(attr, *value);
        } else {
            ok = false;
        }
    }

    if (const toml::node* node = table.get("lookup")) {
        if (const auto* flag = node->as_boolean()) {
            c.lookup = flag->get();
        } else {
            reader.error(*node, "lookup: must be true or false");
            ok = false;
        }
    }

    Facts& facts = c.facts;
    facts.budget_exhausted = false;
    std::vector<std::string_view> given;
    const auto note = [&](bool present, std::string_view key) {
        if (present) {
            given.push_back(key);
        }
    };
    for (const auto& field : kFactFields) {
        note(reader.fact(table, field, facts), field.name);
    }
    const bool syntax_given = table.get("helo_syntax") != nullptr;
    const bool literal_given = table.get("helo_literal") != nullptr;
    const bool literal_form_given = table.get("helo_literal_form") != nullptr;
    const bool forward_given = table.get("helo_forward") != nullptr;
    note(reader.names(table, "ptr_names", facts.ptr_names), "ptr_names");
    const bool verified_given = reader.names(table, "verified_names", facts.verified_names);
    note(verified_given, "verified_names");
    // The blocklist listings, "NAME:MEANING" as the record logs them.
    note(reader.names(table, "dnsbl_listed", facts.listings), "dnsbl_listed");

    if (c.lookup) {
        // Mixing would make it unclear which facts a passing case proved.
        for (const auto key : given) {
            reader.error(*table.get(key),
                         std::string(key) + ": a lookup = true case takes its facts from DNS");
            ok = false;
        }
    } else {
        if (table.get("iprev") == nullptr) {
            reader.error(table, "[[case]] needs iprev (or lookup = true)");
            ok = false;
        }
        const auto helo = c.request.get(Attr::helo_name);
        if (!syntax_given) {
            facts.helo_syntax = classify_helo(helo);
        }
        if (!literal_given) {
            facts.helo_literal = match_helo_literal(helo, c.client);
        }
        if (!literal_form_given) {
            facts.helo_literal_form = helo_literal_form(helo);
        }
        if (!forward_given) {
            if (facts.helo_syntax == HeloSyntax::fqdn) {
                reader.error(table,
                             "[[case]] needs helo_forward: the HELO is a FQDN, so the "
                             "daemon would look it up");
                ok = false;
            } else {
                facts.helo_forward = HeloForward::na;
            }
        }
        if (!verified_given && facts.iprev == Iprev::pass) {
            facts.verified_names = facts.ptr_names;
        }
    }

    if (const auto rule = reader.string(table, "expect_rule")) {
        if (*rule != "default" &&
            std::find(rule_ids.begin(), rule_ids.end(), *rule) == rule_ids.end()) {
            reader.error(*table.get("expect_rule"),
                         "expect_rule: \"" + sanitized(*rule) + "\" is not a rule of the table");
            ok = false;
        }
        c.expect_rule = rule;
    } else if (table.get("expect_rule") != nullptr) {
        ok = false;
    }
    c.expect_action = reader.string(table, "expect_action");
    if (!c.expect_action && table.get("expect_action") != nullptr) {
        ok = false;
    }
    if (table.get("expect_rule") == nullptr && table.get("expect_action") == nullptr) {
        reader.error(table, "[[case]] needs expect_rule or expect_action");
        ok = false;
    }
    if (!ok) {
        return std::nullopt;
    }
    return c;
}

void expect_text(std::ostream& out, const std::optional<std::string>& rule,
                 const std::optional<std::string>& action) {
    if (rule) {
        out << "rule " << sanitized(*rule);
    }
    if (action) {
        out << (rule ? " " : "") << "action \"" << sanitized(*action, 1024) << "\"";
    }
}

}  // namespace

std::vector<RuleCase> parse_rule_cases(std::string_view text, std::string_view source_name,
                                       const rules::RuleTable& table,
                                       std::vector<std::string>& errors) {
    const std::string source(source_name);
    const auto document = parse_toml(text, source, errors);
    if (!document) {
        return {};
    }
    const toml::table& root = *document;
    CaseReader reader(source);
    for (const auto& [key, node] : root) {
        if (key.str() != "case") {
            reader.error(node, "unknown key " + sanitized(key.str()) + " (expected [[case]])");
        }
    }
    const toml::node* cases_node = root.get("case");
    const toml::array* cases = cases_node != nullptr ? cases_node->as_array() : nullptr;
    if (cases_node != nullptr && (cases == nullptr || !cases->is_array_of_tables())) {
        reader.error(*cases_node, "case: must be [[case]] tables");
        reader.report(errors);
        return {};
    }
    if (cases == nullptr || cases->empty()) {
        reader.error(root, "no [[case]] in the file");
        reader.report(errors);
        return {};
    }

    const auto rule_ids = table.rule_ids();
    std::vector<RuleCase> out;
    std::set<std::string> names;
    for (const auto& element : *cases) {
        const auto& case_table = *element.as_table();
        auto parsed = read_case(reader, case_table, rule_ids);
        if (!parsed) {
            continue;
        }
        if (!names.insert(parsed->name).second) {
            reader.error(case_table,
                         "name: \"" + sanitized(parsed->name) + "\" is used by an earlier case");
            continue;
        }
        out.push_back(std::move(*parsed));
    }
    if (reader.failed()) {
        reader.report(errors);
        return {};
    }
    return out;
}

bool case_passes(const RuleCase& rule_case, const rules::Decision& decision) {
    if (rule_case.expect_rule && *rule_case.expect_rule != decision.rule_id) {
        return false;
    }
    if (rule_case.expect_action) {
        const std::string_view want = *rule_case.expect_action;
        if (!want.empty() && want.back() == '*') {
            return std::string_view(decision.action).starts_with(want.substr(0, want.size() - 1));
        }
        return decision.action == want;
    }
    return true;
}

CaseTally run_rule_cases(const Config& config, const std::vector<RuleCase>& cases,
                         const LiveFacts& live, std::ostream& out) {
    CaseTally tally;
    for (const auto& rule_case : cases) {
        std::optional<Facts> facts;
        if (rule_case.lookup) {
            facts = live(rule_case.client, rule_case.request.get(Attr::helo_name));
        } else {
            facts = rule_case.facts;
        }
        if (!facts) {
            ++tally.failed;
            out << "FAIL " << sanitized(rule_case.name) << ": the DNS lookup did not complete\n";
            continue;
        }
        const std::optional<IpAddress> client = rule_case.client;
        bool header_added = false;
        const auto decision = decide(config, rules::Evidence{rule_case.request, *facts, client},
                                     false, false, header_added);
        if (case_passes(rule_case, decision)) {
            ++tally.passed;
            out << "ok   " << sanitized(rule_case.name) << "\n";
            continue;
        }
        ++tally.failed;
        out << "FAIL " << sanitized(rule_case.name) << ": expected ";
        expect_text(out, rule_case.expect_rule, rule_case.expect_action);
        out << ", got ";
        expect_text(out, decision.rule_id, decision.action);
        out << "\n";
    }
    out << tally.passed << " passed, " << tally.failed << " failed\n";
    return tally;
}

int test_rule_cases(const Config& config, const std::string& cases_path, std::ostream& out,
                    std::ostream& err) {
    std::ifstream in(cases_path, std::ios::binary);
    if (!in) {
        err << cases_path << ": cannot open case file\n";
        return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::vector<std::string> errors;
    const auto cases = parse_rule_cases(text.str(), cases_path, *config.rules, errors);
    if (!errors.empty()) {
        for (const auto& error : errors) {
            err << error << "\n";
        }
        err << "rdns-policyd test: " << errors.size() << " error(s) in " << cases_path << "\n";
        return 2;
    }

    // Built only when a case asks, then shared by every such case: loading
    // the Public Suffix List and starting a resolver are pointless for a
    // file of given facts, and wasteful once per case. No cache: every case
    // asks DNS afresh, as explain does.
    boost::asio::io_context io(1);
    std::optional<Stack> stack;
    const LiveFacts live = [&](const IpAddress& client,
                               std::string_view helo) -> std::optional<Facts> {
        if (!stack) {
            stack.emplace(io, config, Stack::Caches::off);
        }
        std::optional<Facts> facts;
        stack->assessor().assess(client, helo, [&](Facts result) { facts = std::move(result); });
        // The resolver keeps watching its descriptor: run until the
        // assessment (bounded by its own budget) has answered.
        io.restart();
        while (!facts && io.run_one() != 0) {
        }
        return facts;
    };
    const auto tally = run_rule_cases(config, cases, live, out);
    return tally.failed == 0 ? 0 : 1;
}

}  // namespace policyd
