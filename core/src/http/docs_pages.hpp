// The API docs pages: GET /docs (Swagger UI) and GET /redoc (Redoc), both rendering
// GET /openapi.json. Their scripts and styles come from the npm packages swagger-ui-dist
// and redoc (docs/api-ui/, installed by scripts/setup.sh, never committed).
//
// The packages' files come from a fixed list: start-up checks they exist, the first request
// for each reads it (about 3 MB in all, so a server whose pages nobody opens does not hold
// them). A request for /docs/assets/<name> or /redoc/assets/<name> is looked up by its exact
// path in that list, so no part of a request path ever reaches the filesystem.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace testino {

struct DocsReply {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // Content-Type first
};

class DocsPages {
public:
    static constexpr const char* kDocsPath = "/docs";
    static constexpr const char* kRedocPath = "/redoc";

    // Switched off (server.docs_enabled: false): serves nothing.
    DocsPages() = default;
    // Finds the asset files in `assets_dir` ("" = <exe dir>/../share/testino/api-ui).
    // Missing files are listed by missing(); the pages then explain how to install them.
    static DocsPages load(const std::string& assets_dir);

    bool enabled() const { return enabled_; }
    const std::filesystem::path& assets_dir() const { return dir_; }
    // The asset files not found under assets_dir(), "" when all are there.
    const std::string& missing() const { return missing_; }

    // True for the pages and for the files they load.
    bool serves(const std::string& path) const;
    // The reply to GET `path`; nullopt when serves(path) is false.
    std::optional<DocsReply> get(const std::string& path) const;

private:
    struct Asset {
        std::string content_type;
        std::filesystem::path file;     // "" = built in (`body` is set)
        const char* replace = nullptr;  // a URL replaced as the file is read
        const char* replacement = nullptr;
        std::optional<std::string> body;  // read on first use, under Bodies::mutex
    };
    // The assets, shared so DocsPages stays copyable. The map's keys are fixed by load();
    // only the bodies fill in later, under the mutex.
    struct Bodies {
        std::mutex mutex;
        std::map<std::string, Asset> by_path;  // request path -> asset
    };
    // The asset's reply: its body read on first use (503 when it can no longer be read).
    DocsReply asset_reply(const std::string& path) const;

    bool enabled_ = false;
    std::filesystem::path dir_;
    std::string missing_;
    std::shared_ptr<Bodies> assets_ = std::make_shared<Bodies>();
};

}  // namespace testino
