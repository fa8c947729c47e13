#include "policyd/base/ascii.hpp"

namespace policyd {

std::string to_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        c = ascii_lower(c);
    }
    return out;
}

}  // namespace policyd
