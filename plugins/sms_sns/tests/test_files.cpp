#include "test_files.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace testino::plugins::sns::test {

std::string read_required_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        ADD_FAILURE() << "required test data missing: " << path
                      << " (the SNS tests read shared/contracts beside the repository clone)";
        return {};
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> required_subdirectories(const std::string& dir) {
    std::vector<std::string> names;
    std::error_code error;
    if (!std::filesystem::is_directory(dir, error)) {
        ADD_FAILURE() << "required test data directory missing: " << dir
                      << " (the SNS tests read shared/contracts beside the repository clone)";
        return names;
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.is_directory()) names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string sns_fixture(const std::string& name) {
    return std::string(SNS_FIXTURES_DIR) + "/" + name;
}

}  // namespace testino::plugins::sns::test
