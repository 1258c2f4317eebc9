#include "test_files.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace testino::plugins::sns::test {

std::string read_required_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        ADD_FAILURE() << "required test data missing: " << path
                      << " (SNS test data lives in plugins/sms_sns/tests/data)";
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
                      << " (SNS test data lives in plugins/sms_sns/tests/data)";
        return names;
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.is_directory()) names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string sns_fixture(const std::string& name) { return std::string(SNS_FIXTURES_DIR) + "/" + name; }

std::string percent_decode(const std::string& text, bool plus_is_space) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (plus_is_space && text[i] == '+') {
            out.push_back(' ');
        } else if (text[i] == '%' && i + 2 < text.size() &&
                   std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
                   std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
            out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

}  // namespace testino::plugins::sns::test
