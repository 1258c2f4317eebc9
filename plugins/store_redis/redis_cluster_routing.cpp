#include "redis_cluster_routing.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>

namespace testino::plugins {
namespace {

// The CRC16 table for polynomial 0x1021, built once at compile time.
constexpr std::array<std::uint16_t, 256> make_crc16_table() {
    std::array<std::uint16_t, 256> table{};
    for (unsigned byte = 0; byte < 256; ++byte) {
        std::uint16_t crc = static_cast<std::uint16_t>(byte << 8);
        for (int bit = 0; bit < 8; ++bit) {
            crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
        }
        table[byte] = crc;
    }
    return table;
}
constexpr std::array<std::uint16_t, 256> kCrc16Table = make_crc16_table();

template <typename Number>
bool parse_number(std::string_view text, Number& value) {
    if (text.empty()) return false;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::uint16_t crc16_xmodem(std::string_view bytes) {
    std::uint16_t crc = 0;
    for (const char c : bytes) {
        const auto index = static_cast<std::uint8_t>((crc >> 8) ^ static_cast<std::uint8_t>(c));
        crc = static_cast<std::uint16_t>((crc << 8) ^ kCrc16Table[index]);
    }
    return crc;
}

std::uint16_t cluster_key_slot(std::string_view key) {
    const std::size_t open = key.find('{');
    if (open != std::string_view::npos) {
        const std::size_t close = key.find('}', open + 1);
        if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
    }
    return static_cast<std::uint16_t>(crc16_xmodem(key) % kClusterSlots);
}

std::optional<ClusterRedirect> parse_cluster_redirect(std::string_view error) {
    if (!error.empty() && error.front() == '-') error.remove_prefix(1);
    ClusterRedirect redirect;
    if (error.substr(0, 6) == "MOVED ") {
        redirect.kind = ClusterRedirect::Kind::moved;
        error.remove_prefix(6);
    } else if (error.substr(0, 4) == "ASK ") {
        redirect.kind = ClusterRedirect::Kind::ask;
        error.remove_prefix(4);
    } else {
        return std::nullopt;
    }
    const std::size_t space = error.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    unsigned slot = 0;
    if (!parse_number(error.substr(0, space), slot) || slot >= kClusterSlots) return std::nullopt;
    const std::string_view address = error.substr(space + 1);
    const std::size_t colon = address.rfind(':');
    if (colon == std::string_view::npos || address.find(' ') != std::string_view::npos) return std::nullopt;
    int port = 0;
    if (!parse_number(address.substr(colon + 1), port) || port <= 0 || port > 65535) return std::nullopt;
    redirect.slot = static_cast<std::uint16_t>(slot);
    redirect.node = {std::string(address.substr(0, colon)), port};
    return redirect;
}

std::array<std::uint16_t, kClusterSlots> SlotMap::make_empty() {
    std::array<std::uint16_t, kClusterSlots> empty{};
    empty.fill(kNone);
    return empty;
}

void SlotMap::assign(std::uint16_t first, std::uint16_t last, const ClusterNode& node) {
    if (first > last || last >= kClusterSlots) return;
    auto it = std::find(nodes_.begin(), nodes_.end(), node);
    if (it == nodes_.end()) it = nodes_.insert(nodes_.end(), node);
    const auto index = static_cast<std::uint16_t>(it - nodes_.begin());
    std::fill(owner_.begin() + first, owner_.begin() + last + 1, index);
}

const ClusterNode* SlotMap::owner(std::uint16_t slot) const {
    if (slot >= kClusterSlots || owner_[slot] == kNone) return nullptr;
    return &nodes_[owner_[slot]];
}

std::size_t SlotMap::covered() const {
    return static_cast<std::size_t>(
        std::count_if(owner_.begin(), owner_.end(), [](std::uint16_t index) { return index != kNone; }));
}

void SlotMap::clear() {
    nodes_.clear();
    owner_ = make_empty();
}

std::optional<SlotMap> slot_map_from_cluster_slots(const redisReply& reply, const std::string& asked_host) {
    if (reply.type != REDIS_REPLY_ARRAY) return std::nullopt;
    SlotMap map;
    for (std::size_t i = 0; i < reply.elements; ++i) {
        const redisReply& range = *reply.element[i];
        if (range.type != REDIS_REPLY_ARRAY || range.elements < 3) return std::nullopt;
        const redisReply& first = *range.element[0];
        const redisReply& last = *range.element[1];
        const redisReply& primary = *range.element[2];
        if (first.type != REDIS_REPLY_INTEGER || last.type != REDIS_REPLY_INTEGER ||
            primary.type != REDIS_REPLY_ARRAY || primary.elements < 2 ||
            primary.element[0]->type != REDIS_REPLY_STRING ||
            primary.element[1]->type != REDIS_REPLY_INTEGER) {
            return std::nullopt;
        }
        if (first.integer < 0 || last.integer < first.integer || last.integer >= kClusterSlots ||
            primary.element[1]->integer <= 0 || primary.element[1]->integer > 65535) {
            return std::nullopt;
        }
        std::string host(primary.element[0]->str, primary.element[0]->len);
        if (host.empty() || host == "?") host = asked_host;
        map.assign(static_cast<std::uint16_t>(first.integer), static_cast<std::uint16_t>(last.integer),
                   {host, static_cast<int>(primary.element[1]->integer)});
    }
    return map;
}

}  // namespace testino::plugins
