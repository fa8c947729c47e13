// Facts in packed form: the caches (FactsCache, InstanceCache) keep Facts as
// a few dozen bytes in one heap block instead of a Facts value with a heap
// block per name, which would triple the memory of a million cached clients.
//
// Contract: packed_size() is the number of bytes pack() writes, or 0 when
// the facts do not fit the form unaltered (more than 255 PTR names, a name
// longer than 255 bytes, verified names that are not a subsequence of the
// PTR names); then nothing may be packed. unpack() reads what pack() wrote
// and restores every field except helo_changed (the SMTP session's, not
// DNS's), which it sets to false.
#pragma once

#include <cstddef>

#include "policyd/checks/facts.hpp"

namespace policyd {

std::size_t packed_size(const Facts& facts);

// Writes packed_size(facts) bytes at `out` and returns the end.
unsigned char* pack(const Facts& facts, unsigned char* out);

// `in` must point at bytes written by pack(); `facts` is overwritten.
void unpack(const unsigned char* in, Facts& facts);

}  // namespace policyd
