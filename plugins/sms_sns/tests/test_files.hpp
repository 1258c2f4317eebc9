// Reading the contract files (tests/data) the SNS tests are held to. A missing file is a test
// failure that names the path, never a silent skip.
#pragma once

#include <string>
#include <vector>

namespace testino::plugins::sns::test {

// The whole file; records a GoogleTest failure naming the path (and returns "") when it
// cannot be read. Call through ASSERT_NO_FATAL_FAILURE or check HasFailure() as needed.
std::string read_required_file(const std::string& path);

// Sub-directories of `dir`, sorted by name; a failure naming `dir` when it does not exist.
std::vector<std::string> required_subdirectories(const std::string& dir);

// %XX escapes decoded (a malformed one is kept as it is); with `plus_is_space`, '+' is a
// space, as in an application/x-www-form-urlencoded body.
std::string percent_decode(const std::string& text, bool plus_is_space = false);

// The SNS fixtures directory (tests/data/sns) and a file in it.
std::string sns_fixture(const std::string& name);

}  // namespace testino::plugins::sns::test
