// The `sms.sns` config section: its schema (what the server validates and --check-config
// shows) and the checks the schema cannot express, turned into SnsSettings.
#pragma once

#include <vector>

#include "sns_provider.hpp"
#include "testino/config_view.hpp"

namespace testino::plugins::sns {

inline constexpr const char* kDefaultEndpoint = "https://sns.{region}.amazonaws.com";

std::vector<sdk::ConfigKey> config_keys();

// Throws sdk::ConfigError naming the key (ConfigView::where) for a malformed value.
SnsSettings settings_from_config(const sdk::ConfigView& config);

}  // namespace testino::plugins::sns
