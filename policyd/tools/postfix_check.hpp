// Postfix check: what check-config can ask the local Postfix about the
// configuration, through postconf(1). Only warnings: the daemon may run on
// another host than the Postfix that asks it.
//
// Contract: restriction_class_warnings() runs `postconf -h
// smtpd_restriction_classes` (the default Postfix configuration, or the one
// in $MAIL_CONFIG) once, and returns one line for every declared class
// Postfix does not define, or one line saying why it could not ask. Blocks
// for as long as postconf takes; for check-config only.
#pragma once

#include <string>
#include <vector>

namespace policyd {

std::vector<std::string> restriction_class_warnings(const std::vector<std::string>& classes);

// The class names of a smtpd_restriction_classes value ("a, b c").
std::vector<std::string> parse_restriction_classes(const std::string& value);

}  // namespace policyd
