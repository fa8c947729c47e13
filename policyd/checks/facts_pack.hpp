// Facts in packed form: the caches (FactsCache, InstanceCache) keep Facts as
// a few dozen bytes in one heap block instead of a Facts value with a heap
// block per name, which would triple the memory of a million cached clients.
//
// Contract: packable() is false when the facts do not fit the form
// unaltered (more than 255 PTR names, a name longer than 255 bytes,
// verified names that are not a subsequence of the PTR names); then they
// must not be packed. pack() writes them with a ByteWriter (counting or
// filling: policyd/base/byte_pack.hpp); unpack() reads what pack() wrote and
// restores every field except helo_changed (the SMTP session's, not DNS's),
// which it sets to false. Enumerated facts are packed by walking kFactFields,
// so a new one needs nothing here.
#pragma once

#include "policyd/base/byte_pack.hpp"
#include "policyd/checks/facts.hpp"

namespace policyd {

bool packable(const Facts& facts);

void pack(const Facts& facts, ByteWriter& out);

// `in` must be at bytes written by pack(); `facts` is overwritten.
void unpack(ByteReader& in, Facts& facts);

}  // namespace policyd
