// Reading DNS answers (resolver/answer_wire.hpp): PTR targets that are no
// host names are dropped, whatever bytes a hostile server puts in them.
#include <unbound.h>

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

TEST_CASE("convert: an MX answer gives its exchange names; a null MX gives NODATA", "[wire]") {
    // Each exchange with preference 10 unless `preferences` says otherwise.
    const auto mx = [](const std::vector<std::string>& exchanges,
                       const std::vector<unsigned>& preferences = {}) {
        std::vector<std::string> rdata;
        rdata.reserve(exchanges.size());
        for (std::size_t i = 0; i < exchanges.size(); ++i) {
            const unsigned preference = i < preferences.size() ? preferences[i] : 10;
            rdata.push_back(std::string{static_cast<char>(preference >> 8U),
                                        static_cast<char>(preference & 0xffU)} +
                            exchanges[i]);
        }
        std::vector<char*> data;
        std::vector<int> len;
        for (auto& item : rdata) {
            data.push_back(item.data());
            len.push_back(static_cast<int>(item.size()));
        }
        data.push_back(nullptr);
        len.push_back(0);
        std::string qname = "mx.example.com";
        ub_result result{};
        result.qname = qname.data();
        result.qtype = 15;
        result.qclass = 1;
        result.data = data.data();
        result.len = len.data();
        result.havedata = 1;
        return resolver::convert(0, &result, resolver::RrType::mx, 10);
    };
    const auto answer = mx({wire({"Mail", "Example", "COM"}), wire({"mx2", "example", "com"})});
    CHECK(answer.status == resolver::Status::ok);
    CHECK(answer.names == std::vector<std::string>{"mail.example.com", "mx2.example.com"});
    // Lowest preference first (RFC 5321 5.1), whatever order the answer
    // came in; equal preferences keep theirs. 256 > 20 tells the high byte.
    CHECK(mx({wire({"c", "example"}), wire({"a", "example"}), wire({"b", "example"}),
              wire({"d", "example"})},
             {256, 20, 20, 5})
              .names ==
          std::vector<std::string>{"d.example", "a.example", "b.example", "c.example"});
    // RFC 7505: "." says this domain takes no mail.
    CHECK(mx({std::string(1, '\0')}).status == resolver::Status::nodata);
    // Too short for a preference and a name.
    CHECK(mx({std::string(1, '\x0a')}).status == resolver::Status::nodata);
}
