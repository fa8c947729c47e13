#include "policyd/tools/postfix_check.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <memory>

namespace policyd {

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

std::vector<std::string> restriction_class_warnings(const std::vector<std::string>& classes) {
    std::vector<std::string> warnings;
    if (classes.empty()) {
        return warnings;
    }
    // A fixed command line: nothing of the configuration reaches the shell.
    FILE* pipe = ::popen("postconf -h smtpd_restriction_classes 2>/dev/null", "r");
    if (pipe == nullptr) {
        warnings.emplace_back("cannot run postconf: restriction classes not compared with Postfix");
        return warnings;
    }
    std::string output;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0 && output.size() < (1U << 20U)) {
        output.append(buffer, n);
    }
    const int status = ::pclose(pipe);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        warnings.emplace_back(
            "postconf did not answer (no Postfix here?): restriction classes not compared with "
            "Postfix's smtpd_restriction_classes");
        return warnings;
    }
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
