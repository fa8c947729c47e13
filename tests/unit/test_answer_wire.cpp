// Reading DNS answers (resolver/answer_wire.hpp): PTR targets that are no
// host names are dropped, whatever bytes a hostile server puts in them.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "policyd/base/dns_name.hpp"
#include "resolver/answer_wire.hpp"

namespace {

std::string wire(const std::vector<std::string>& labels) {
    std::string out;
    for (const auto& label : labels) {
        out.push_back(static_cast<char>(label.size()));
        out += label;
    }
    out.push_back('\0');
    return out;
}

std::string decode(const std::string& data) {
    return resolver::decode_wire_name(reinterpret_cast<const unsigned char*>(data.data()),
                                      data.size());
}

}  // namespace

TEST_CASE("decode_wire_name: host names pass, lower-cased, without the root dot", "[wire]") {
    CHECK(decode(wire({"Mail", "Example", "COM"})) == "mail.example.com");
    CHECK(decode(wire({"host_1", "xn--bcher-kva", "example"})) == "host_1.xn--bcher-kva.example");
    CHECK(decode(wire({std::string(63, 'a'), "example"})) == std::string(63, 'a') + ".example");
}

TEST_CASE("decode_wire_name: what no host name holds is dropped", "[wire]") {
    struct Row {
        const char* why;
        std::string data;
    };
    const std::vector<Row> rows = {
        // Would close the comment of our Authentication-Results header and
        // append a forged result.
        {"')' and ';'", wire({"x);iprev=pass", "example", "test"})},
        {"'*'", wire({"*", "example", "test"})},
        {"a space", wire({"a b", "example"})},
        {"a '.' inside a label", wire({"a.b", "example"})},
        {"a backslash", wire({"a\\b", "example"})},
        {"a control byte", wire({std::string("a\x01", 2), "example"})},
        {"a NUL inside a label", wire({std::string("a\0b", 3), "example"})},
        {"a non-ASCII byte", wire({"m\xc3\xbc", "example"})},
        {"a compression pointer", std::string("\x04mail\xc0\x0c", 7)},
        {"no root label", std::string("\x04mail", 5)},
        {"bytes after the root label", wire({"mail", "example"}) + "x"},
        {"the root name alone", std::string(1, '\0')},
        {"a 64-byte label", wire({std::string(64, 'a'), "example"})},
        {"nothing", std::string()},
    };
    for (const auto& row : rows) {
        CAPTURE(row.why);
        CHECK(decode(row.data).empty());
    }
}

TEST_CASE("decode_wire_name: whatever it returns is a DNS name", "[wire]") {
    // Every single-byte label: the ones it keeps are exactly the DNS-name bytes.
    for (int byte = 1; byte < 256; ++byte) {
        const std::string label(1, static_cast<char>(byte));
        const std::string name = decode(wire({label, "example"}));
        CAPTURE(byte);
        CHECK((!name.empty()) == policyd::is_dns_name(label));
        if (!name.empty()) {
            CHECK(policyd::is_dns_name(name));
        }
    }
}
