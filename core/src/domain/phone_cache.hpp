// A bounded memo of libphonenumber's verdicts. Validating a number costs ~150,000
// instructions of regex matching, and a user who asks for a code verifies the same number
// moments later: the second check is a lookup.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace testino {

class PhoneVerdictCache {
public:
    // `voip` is valid too; whether it is accepted is the caller's policy (NumberPolicy).
    enum class Verdict : std::uint8_t { valid, voip, not_a_number, cannot_receive };
    struct Entry {
        Verdict verdict = Verdict::not_a_number;
        std::string e164;  // when valid or voip
    };

    // At most `capacity` entries (rounded down to a multiple of `shards`), each shard with
    // its own lock, so threads rarely wait for each other. Entries are allocated as they
    // arrive; the oldest of a full shard makes room (FIFO): O(1) either way.
    explicit PhoneVerdictCache(std::size_t capacity, std::size_t shards = 16);

    std::optional<Entry> find(const std::string& key) const;
    void insert(const std::string& key, Entry entry);
    std::size_t size() const;

private:
    struct Shard {
        mutable std::mutex mutex;
        std::unordered_map<std::string, Entry> map;
        std::vector<std::string> order;  // keys in arrival order, a ring once full
        std::size_t next = 0;            // the ring's oldest key once full
    };
    Shard& shard_for(const std::string& key) const;

    std::size_t shard_count_;
    std::size_t per_shard_;
    std::unique_ptr<Shard[]> shards_;
};

}  // namespace testino
