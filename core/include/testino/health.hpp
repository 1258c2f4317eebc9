// Testino plugin SDK: how a plugin reports its state to GET /api/v1/health.
#pragma once

#include <string>

namespace testino::sdk {

struct HealthReport {
    bool healthy = true;
    std::string detail;  // short, for operators; never a secret
};

}  // namespace testino::sdk
