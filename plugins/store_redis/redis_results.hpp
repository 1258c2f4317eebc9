// How the Redis store turns a Redis outcome into a store result: the shared store helpers
// (testino/plugins/store_results.hpp), with the Redis store's label.
#pragma once

#include <utility>

#include "testino/plugins/store_results.hpp"

namespace testino::plugins::redis_results {

using store_results::failed;

template <typename Result, typename Convert>
void finish_with(const sdk::StoreCompletion<Result>& done, Convert&& convert) noexcept {
    store_results::finish_with(done, std::forward<Convert>(convert), "redis store");
}

}  // namespace testino::plugins::redis_results
