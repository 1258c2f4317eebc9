// Points the logger at a temporary file for one test, and reads back the lines written.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "observability/logging.hpp"

namespace testino {

class LogCapture {
public:
    LogCapture() : file_(std::tmpfile()) { Logger::set_fd(fileno(file_)); }
    ~LogCapture() {
        Logger::set_fd(1);
        std::fclose(file_);
    }
    std::vector<std::string> lines() const {
        std::string text;
        char buffer[4096];
        for (off_t at = 0;;) {
            const ssize_t n = ::pread(fileno(file_), buffer, sizeof buffer, at);
            if (n <= 0) break;
            text.append(buffer, static_cast<std::size_t>(n));
            at += n;
        }
        std::vector<std::string> out;
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);) out.push_back(line);
        return out;
    }

private:
    std::FILE* file_;
};

}  // namespace testino
