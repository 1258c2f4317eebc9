// Language tags: BCP 47 (RFC 5646) well-formedness, the Accept-Language header (RFC 9110
// §12.5.4), and lookup of a tag among those that have a message (RFC 4647 §3.4).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace testino {

// A well-formed BCP 47 language tag (RFC 5646 §2.1 `langtag` or `privateuse`; the
// grandfathered irregular tags are refused). Case does not matter.
bool is_well_formed_locale(std::string_view tag);

// The tag in its canonical case (RFC 5646 §2.1.1): "pt-br" -> "pt-BR", "ZH-HANS" -> "zh-Hans".
std::string canonical_locale(std::string_view tag);

// The language ranges of an Accept-Language value, best first: by q-value, then in the order
// given. Ranges with q=0, the wildcard "*", and malformed elements are left out (a bad element
// does not spoil the others); at most 32 elements are read.
std::vector<std::string> parse_accept_language(std::string_view header);

// The first of `available` (canonical tags) that `tag` reaches by dropping subtags from the
// end (RFC 4647 lookup: "pt-BR" -> "pt", "zh-Hans-CN" -> "zh-Hans" -> "zh"); a Chinese tag of
// Taiwan, Hong Kong or Macao without a script tries zh-Hant first. "" when none.
std::string lookup_locale(std::string_view tag, const std::vector<std::string>& available);

}  // namespace testino
