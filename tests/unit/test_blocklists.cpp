// Unit tests for the [[dnsbl]] lists: what an answer means
// (policyd/checks/blocklists.hpp) and how the tables are read
// (policyd/config/blocklists_file.hpp).
#include <toml++/toml.h>

#include <boost/asio/ip/address.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "policyd/checks/blocklists.hpp"
#include "policyd/config/blocklists_file.hpp"

using namespace policyd;

namespace {

resolver::Answer answer_with(std::vector<std::string> addresses) {
    resolver::Answer answer;
    answer.status = resolver::Status::ok;
    for (const auto& text : addresses) {
        answer.addresses.push_back(boost::asio::ip::make_address(text));
    }
    return answer;
}

Blocklist zen() {
    Blocklist list{"zen", "zen.example", BlocklistTarget::client, {}};
    list.codes.emplace_back(boost::asio::ip::make_address("127.0.0.4"), "xbl");
    return list;
}

}  // namespace

TEST_CASE("blocklists: what an answer says", "[dnsbl]") {
    const Blocklist list = zen();
    const Listing xbl = read_listing(list, answer_with({"127.0.0.4"}));
    CHECK(xbl.status == ListingStatus::listed);
    CHECK(xbl.label == "xbl");
    const Listing other = read_listing(list, answer_with({"127.0.0.11"}));
    CHECK(other.status == ListingStatus::listed);
    CHECK(other.label == "127.0.0.11");
    // Spamhaus' "you asked through a public resolver": an error, not a listing.
    CHECK(read_listing(list, answer_with({"127.255.255.254"})).status == ListingStatus::temperror);
    // A wildcard or lame zone's address is no return code.
    CHECK(read_listing(list, answer_with({"192.0.2.1"})).status == ListingStatus::not_listed);
    resolver::Answer none;
    none.status = resolver::Status::nxdomain;
    CHECK(read_listing(list, none).status == ListingStatus::not_listed);
    none.status = resolver::Status::nodata;
    CHECK(read_listing(list, none).status == ListingStatus::not_listed);
    none.status = resolver::Status::temperror;
    CHECK(read_listing(list, none).status == ListingStatus::temperror);
}

TEST_CASE("blocklists: the name each kind asks", "[dnsbl]") {
    Blocklist list = zen();
    const auto v4 = boost::asio::ip::make_address("192.0.2.1");
    CHECK(blocklist_query(list, v4, "") == "1.2.0.192.zen.example");
    CHECK(blocklist_query(list, boost::asio::ip::make_address("::ffff:192.0.2.1"), "") ==
          "1.2.0.192.zen.example");
    const std::string v6 = blocklist_query(list, boost::asio::ip::make_address("2001:db8::1"), "");
    CHECK(v6 == "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.example");
    list.target = BlocklistTarget::ptr;
    CHECK(blocklist_query(list, v4, "example.com") == "example.com.zen.example");
    CHECK(blocklist_query(list, v4, "").empty());
    list.zone = std::string(240, 'z') + ".example";
    CHECK(blocklist_query(list, v4, "example.com").empty());  // longer than a DNS name
}

TEST_CASE("blocklists: [[dnsbl]] tables are read strictly", "[dnsbl]") {
    const auto read = [](const std::string& text, std::vector<std::string>& errors) {
        return read_blocklists(toml::parse(text), "rdns-policyd.toml", errors);
    };
    std::vector<std::string> errors;
    const auto lists = read(R"(
[[dnsbl]]
name = "zen"
zone = "Zen.Example."
check = "client"
codes = { "127.0.0.2" = "sbl", "127.0.0.4" = "xbl" }
[[dnsbl]]
name = "dbl"
zone = "dbl.example"
check = "ptr"
)",
                            errors);
    CHECK(errors.empty());
    REQUIRE(lists.size() == 2);
    CHECK(lists[0].zone == "zen.example");
    CHECK(lists[0].codes.size() == 2);
    CHECK(lists[1].target == BlocklistTarget::ptr);
    CHECK(blocklist_signature(lists) !=
          blocklist_signature({lists[0]}));  // a change a reload can tell

    const auto first_error = [&](const std::string& text) {
        std::vector<std::string> errs;
        read(text, errs);
        return errs.empty() ? std::string() : errs.front();
    };
    CHECK(first_error("[[dnsbl]]\nname = \"Zen\"\nzone = \"z.example\"\ncheck = \"client\"\n")
              .find("rdns-policyd.toml:1: dnsbl: name must be") == 0);
    CHECK(first_error("[[dnsbl]]\nname = \"z\"\nzone = \"not a zone\"\ncheck = \"client\"\n")
              .find("zone must be the list's DNS zone") != std::string::npos);
    CHECK(first_error("[[dnsbl]]\nname = \"z\"\nzone = \"z.example\"\ncheck = \"sender\"\n")
              .find("check must be \"client\"") != std::string::npos);
    CHECK(first_error("[[dnsbl]]\nname = \"z\"\nzone = \"z.example\"\ncheck = \"client\"\n"
                      "codes = { \"10.0.0.2\" = \"x\" }\n")
              .find("is not a return code") != std::string::npos);
    CHECK(first_error("[[dnsbl]]\nname = \"z\"\nzone = \"z.example\"\ncheck = \"client\"\n"
                      "codes = { \"127.255.255.254\" = \"x\" }\n")
              .find("is not a return code") != std::string::npos);
    CHECK(first_error("[[dnsbl]]\nname = \"z\"\nzone = \"z.example\"\ncheck = \"client\"\n"
                      "weight = 3\n")
              .find("unknown key weight") != std::string::npos);
    CHECK(first_error("[[dnsbl]]\nname = \"z\"\nzone = \"a.example\"\ncheck = \"client\"\n"
                      "[[dnsbl]]\nname = \"z\"\nzone = \"b.example\"\ncheck = \"client\"\n")
              .find("two lists named z") != std::string::npos);
    CHECK(first_error("dnsbl = \"zen\"\n").find("write each blocklist as a [[dnsbl]] table") !=
          std::string::npos);
}
