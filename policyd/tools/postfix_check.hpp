// Postfix check: what check-config can ask the local Postfix about the
// configuration, through postconf(1). Only warnings: the daemon may run on
// another host than the Postfix that asks it.
//
// Contract: restriction_class_warnings() asks postconf for
// smtpd_restriction_classes (the default Postfix configuration, or the one
// in $MAIL_CONFIG) once, and returns one line for every declared class
// Postfix does not define, or one line saying why it could not ask. Blocks
// for as long as postconf takes; for check-config only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace policyd {

// What `postconf -x -h [-c DIR] NAME...` says of each name, in order (the
// values with $name references expanded); or, with ok = false, one line
// saying why postconf could not answer. postconf runs without a shell, so
// nothing of DIR reaches one. Blocks for as long as postconf takes.
struct PostconfValues {
    bool ok = false;
    std::vector<std::string> values;
    std::string error;
};
PostconfValues postconf_values(std::string_view config_dir, const std::vector<std::string>& names);

std::vector<std::string> restriction_class_warnings(const std::vector<std::string>& classes);

// The class names of a smtpd_restriction_classes value ("a, b c").
std::vector<std::string> parse_restriction_classes(const std::string& value);

}  // namespace policyd
