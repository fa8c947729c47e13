// Fact derivation from DNS outcomes: the pure part of the assessment.
#include <catch2/catch.hpp>

#include "policyd/checks/assessment.hpp"

using policyd::derive_helo_forward;
using policyd::derive_helo_mx;
using policyd::derive_iprev;
using policyd::ForwardEvidence;
using policyd::HeloForward;
using policyd::HeloMx;
using policyd::Iprev;
using resolver::Status;

namespace {
ForwardEvidence confirmed() {
    return {true, false, true};
}
ForwardEvidence other_address() {
    return {false, false, true};
}
ForwardEvidence no_address() {
    return {false, false, false};
}
ForwardEvidence timed_out() {
    return {false, true, false};
}
}  // namespace

TEST_CASE("iprev follows the PTR answer and forward confirmation", "[derive]") {
    struct Row {
        const char* what;
        Status ptr;
        std::size_t names;
        std::vector<ForwardEvidence> forward;
        Iprev expected;
    };
    const std::vector<Row> rows = {
        {"PTR lookup failed temporarily", Status::temperror, 0, {}, Iprev::temperror},
        {"no PTR (NXDOMAIN)", Status::nxdomain, 0, {}, Iprev::permerror},
        {"no PTR (NODATA)", Status::nodata, 0, {}, Iprev::permerror},
        {"PTR answer with no usable name", Status::ok, 0, {}, Iprev::permerror},
        {"single name confirms", Status::ok, 1, {confirmed()}, Iprev::pass},
        {"name resolves elsewhere", Status::ok, 1, {other_address()}, Iprev::fail},
        {"name has no address", Status::ok, 1, {no_address()}, Iprev::fail},
        {"second of several confirms",
         Status::ok,
         3,
         {other_address(), confirmed(), no_address()},
         Iprev::pass},
        {"one forward lookup timed out, none confirmed",
         Status::ok,
         2,
         {other_address(), timed_out()},
         Iprev::temperror},
        {"confirmation wins over another name's timeout",
         Status::ok,
         2,
         {timed_out(), confirmed()},
         Iprev::pass},
    };
    for (const auto& row : rows) {
        SECTION(row.what) {
            CHECK(derive_iprev(row.ptr, row.names, row.forward) == row.expected);
        }
    }
}

TEST_CASE("helo_mx from the MX answer", "[derive]") {
    CHECK(derive_helo_mx(Status::ok) == HeloMx::present);
    CHECK(derive_helo_mx(Status::nodata) == HeloMx::none);
    CHECK(derive_helo_mx(Status::nxdomain) == HeloMx::none);
    CHECK(derive_helo_mx(Status::temperror) == HeloMx::temperror);
}

TEST_CASE("HELO forward: an address of the client's network is same-network, not pass",
          "[derive]") {
    ForwardEvidence near;
    near.any_address = true;
    near.near = true;
    CHECK(derive_helo_forward(near) == HeloForward::same_network);
    near.confirmed = true;
    CHECK(derive_helo_forward(near) == HeloForward::pass);
    near.confirmed = false;
    near.temperror = true;  // another lookup might have confirmed
    CHECK(derive_helo_forward(near) == HeloForward::temperror);
    // iprev stays strict: a PTR name resolving into the client's /24 is fail.
    ForwardEvidence ptr_near;
    ptr_near.any_address = true;
    ptr_near.near = true;
    CHECK(derive_iprev(Status::ok, 1, {ptr_near}) == Iprev::fail);
}

TEST_CASE("HELO forward confirmation", "[derive]") {
    CHECK(derive_helo_forward(confirmed()) == HeloForward::pass);
    CHECK(derive_helo_forward(other_address()) == HeloForward::fail);
    CHECK(derive_helo_forward(no_address()) == HeloForward::none);
    CHECK(derive_helo_forward(timed_out()) == HeloForward::temperror);
    // A timeout on AAAA does not hide an A record that matched.
    CHECK(derive_helo_forward(ForwardEvidence{true, true, true}) == HeloForward::pass);
    // Addresses that do not match, plus a timeout: we cannot say "fail".
    CHECK(derive_helo_forward(ForwardEvidence{false, true, true}) == HeloForward::temperror);
}
