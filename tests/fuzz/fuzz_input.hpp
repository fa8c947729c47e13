// What every fuzz target shares: a reader that splits libFuzzer's bytes into
// the pieces a target needs, and the one way a target reports a broken
// invariant (abort(), which libFuzzer records as a crash with its input).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace fuzz {

// Fails the run when `holds` is false: a fuzz target states what must be
// true of every input, not only that nothing crashes.
inline void require(bool holds, const char* what) {
    if (!holds) {
        std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
        std::abort();
    }
}

// Reads from the front of the input; once it runs dry every read is zero or
// empty, so any input is a valid sequence of reads.
class Input {
  public:
    Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    std::uint8_t byte() {
        if (pos_ >= size_) {
            return 0;
        }
        return data_[pos_++];
    }

    // Up to `count` bytes as text (fewer when the input runs out).
    std::string_view bytes(std::size_t count) {
        const std::size_t n = count < size_ - pos_ ? count : size_ - pos_;
        const std::string_view out(reinterpret_cast<const char*>(data_ + pos_), n);
        pos_ += n;
        return out;
    }

    // A piece whose length is the next byte.
    std::string_view piece() { return bytes(byte()); }

    // Everything not read yet.
    std::string_view rest() { return bytes(size_ - pos_); }

  private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

}  // namespace fuzz
