// BatchingSink: lines leave in batches, in order, and none is lost.
#include <fcntl.h>
#include <spdlog/logger.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "policyd/daemon/log_sink.hpp"

namespace {

// A pipe whose read end never blocks: what has been written so far.
struct Pipe {
    std::array<int, 2> fds{-1, -1};
    Pipe() {
        REQUIRE(::pipe2(fds.data(), O_CLOEXEC) == 0);
        REQUIRE(::fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0);
        // Room for the large batch below without a reader.
        ::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
    }
    ~Pipe() {
        ::close(fds[0]);
        ::close(fds[1]);
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;

    std::string drain() const {
        std::string out;
        std::array<char, 4096> chunk{};
        for (;;) {
            const ssize_t n = ::read(fds[0], chunk.data(), chunk.size());
            if (n <= 0) {
                return out;
            }
            out.append(chunk.data(), static_cast<std::size_t>(n));
        }
    }
};

}  // namespace

TEST_CASE("lines are held until flushed, then written in order", "[log-sink]") {
    Pipe pipe;
    auto sink = std::make_shared<policyd::BatchingSink>(pipe.fds[1]);
    int scheduled = 0;
    sink->set_schedule([&] { ++scheduled; });
    spdlog::logger logger("test", sink);
    logger.set_pattern("%l: %v");
    logger.set_level(spdlog::level::info);
    logger.flush_on(spdlog::level::warn);

    logger.info("one");
    logger.info("two");
    CHECK(pipe.drain().empty());
    CHECK(scheduled == 1);  // once per batch, not per line
    logger.flush();
    CHECK(pipe.drain() == "info: one\ninfo: two\n");

    logger.info("three");
    CHECK(scheduled == 2);   // a new batch
    logger.warn("trouble");  // goes out at once, with what was waiting
    CHECK(pipe.drain() == "info: three\nwarning: trouble\n");

    SECTION("a large batch is written without waiting for the flush") {
        const std::string line(1000, 'x');
        for (int i = 0; i < 70; ++i) {
            logger.info(line);
        }
        const std::string out = pipe.drain();
        CHECK(out.size() >= policyd::BatchingSink::kFlushBytes);
        CHECK(out.size() % (line.size() + 7) == 0);  // whole lines only
    }
    SECTION("what is left is written when the sink goes") {
        logger.info("last");
        sink->set_schedule(nullptr);
        sink.reset();
        logger.sinks().clear();  // the logger held the last reference
        CHECK(pipe.drain() == "info: last\n");
    }
}
