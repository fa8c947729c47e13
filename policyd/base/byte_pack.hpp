// Byte packing: the one writer and reader of the compact blocks the caches
// keep their entries in (resolver/cache.cpp, policyd/checks/facts_pack.cpp,
// the facts and instance caches): a million cached clients are a million
// small blocks, not a million structs of strings and vectors.
//
// Contract:
// - ByteWriter counts (default-constructed) or writes into a buffer sized
//   by counting first; pack_block() runs one write function both ways, so a
//   block's size and its layout cannot disagree.
// - A field is a u8 length and that many bytes: the caller checks
//   fits_field() first (a longer value is not storable, never truncated).
//   u32 values are little-endian.
// - ByteReader reads back exactly what a writer wrote and trusts it: blocks
//   never come from outside the process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace policyd {

inline constexpr std::size_t kMaxFieldBytes = 255;

constexpr bool fits_field(std::size_t length) {
    return length <= kMaxFieldBytes;
}

class ByteWriter {
  public:
    ByteWriter() = default;  // counts only
    explicit ByteWriter(unsigned char* out) : out_(out) {}

    void u8(std::uint8_t value) {
        if (out_ != nullptr) {
            out_[size_] = value;
        }
        ++size_;
    }
    void u32(std::uint32_t value) {
        for (unsigned shift = 0; shift < 32; shift += 8) {
            u8(static_cast<std::uint8_t>(value >> shift));
        }
    }
    void bytes(const void* data, std::size_t length) {
        if (out_ != nullptr && length != 0) {
            std::memcpy(out_ + size_, data, length);
        }
        size_ += length;
    }
    void bytes(std::string_view text) { bytes(text.data(), text.size()); }
    void field(std::string_view text) {
        u8(static_cast<std::uint8_t>(text.size()));
        bytes(text);
    }

    [[nodiscard]] std::size_t size() const { return size_; }

  private:
    unsigned char* out_ = nullptr;
    std::size_t size_ = 0;
};

class ByteReader {
  public:
    explicit ByteReader(const unsigned char* in) : in_(in) {}

    std::uint8_t u8() { return *in_++; }
    std::uint32_t u32() {
        std::uint32_t value = 0;
        for (unsigned shift = 0; shift < 32; shift += 8) {
            value |= std::uint32_t{u8()} << shift;
        }
        return value;
    }
    std::string_view bytes(std::size_t length) {
        // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): bytes as chars
        const std::string_view text(reinterpret_cast<const char*>(in_), length);
        in_ += length;
        return text;
    }
    std::string_view field() { return bytes(u8()); }
    void skip(std::size_t length) { in_ += length; }

  private:
    const unsigned char* in_;
};

// A heap block of exactly the bytes an entry needs.
using ByteBlock = std::unique_ptr<unsigned char[]>;  // NOLINT(*-avoid-c-arrays): sized at run time

// Runs write(ByteWriter&) once to count and once to fill a new block.
template <typename Write>
ByteBlock pack_block(Write&& write) {
    ByteWriter counter;
    write(counter);
    auto block = std::make_unique<unsigned char[]>(counter.size());  // NOLINT(*-avoid-c-arrays)
    ByteWriter writer(block.get());
    write(writer);
    return block;
}

// The `length` bytes at `offset` in a block, as text (a key stored in it).
inline std::string_view block_text(const ByteBlock& block, std::size_t offset, std::size_t length) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): bytes as chars
    return {reinterpret_cast<const char*>(block.get()) + offset, length};
}

}  // namespace policyd
