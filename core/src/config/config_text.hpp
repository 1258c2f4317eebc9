// Text helpers the config machinery (config_source.cpp) and the core's own schema
// (app_config.cpp) share. Internal to core/src/config.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

namespace testino::config_detail {

const char* node_kind(const YAML::Node& node);
std::string lower(std::string s);
std::string trim(const std::string& s);
bool parse_int(const std::string& text, std::int64_t& out);
std::string join(const std::vector<std::string>& items);

}  // namespace testino::config_detail
