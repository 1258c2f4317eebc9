#include "http/docs_pages.hpp"

#include <fstream>
#include <sstream>
#include <system_error>

namespace testino {
namespace {

// The files the pages load, each from its npm package's folder under the assets dir.
struct AssetFile {
    const char* request_path;
    const char* file;  // relative to the assets dir: the node_modules layout
    const char* content_type;
    const char* page;  // the page that cannot work without it
    // A URL in the file replaced as it is read, or nullptr.
    const char* replace = nullptr;
    const char* replacement = nullptr;
};
constexpr AssetFile kAssetFiles[] = {
    {"/docs/assets/swagger-ui-bundle.js", "swagger-ui-dist/swagger-ui-bundle.js",
     "text/javascript; charset=utf-8", DocsPages::kDocsPath},
    {"/docs/assets/swagger-ui.css", "swagger-ui-dist/swagger-ui.css", "text/css; charset=utf-8",
     DocsPages::kDocsPath},
    {"/docs/assets/favicon-32x32.png", "swagger-ui-dist/favicon-32x32.png", "image/png",
     DocsPages::kDocsPath},
    // Redoc's sidebar footer shows Redocly's logo from their CDN, which the page's CSP
    // refuses (an error in every visitor's console); an empty image instead, and no
    // request leaves the visitor's browser. The footer's text and link stay.
    {"/redoc/assets/redoc.standalone.js", "redoc/bundles/redoc.standalone.js",
     "text/javascript; charset=utf-8", DocsPages::kRedocPath, "https://cdn.redoc.ly/redoc/logo-mini.svg",
     "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"},
};
constexpr const char* kSwaggerInitPath = "/docs/assets/swagger-init.js";
// No asset is near this; a bigger file means a wrong folder, not something to serve.
constexpr std::uintmax_t kMaxAssetBytes = 16u << 20;

constexpr const char* kHtml = "text/html; charset=utf-8";
// No inline script anywhere; the two UIs set inline styles, Swagger UI draws icons from
// data: URLs, and Redoc runs its search index in a worker made from a blob: URL.
constexpr const char* kPageCsp =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// An HTML page of the API docs; `head` goes after the shared title and icon.
std::string html_page(const std::string& title, const std::string& head, const std::string& body) {
    return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
           title +
           "</title>\n<link rel=\"icon\" type=\"image/png\" href=\"/docs/assets/favicon-32x32.png\">\n" +
           head + "</head>\n<body>\n" + body + "</body>\n</html>\n";
}

constexpr const char* kTitle = "Testino Auth Server API";
constexpr const char* kSwaggerHead = "<link rel=\"stylesheet\" href=\"/docs/assets/swagger-ui.css\">\n";
constexpr const char* kSwaggerBody = R"(<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-init.js"></script>
)";
constexpr const char* kRedocBody = R"(<redoc spec-url="/openapi.json"></redoc>
<script src="/redoc/assets/redoc.standalone.js"></script>
)";

// Served as a file, not inline, so the page's CSP needs no 'unsafe-inline' scripts.
constexpr const char* kSwaggerInit = R"(// Starts Swagger UI on the server's own OpenAPI document.
window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    validatorUrl: null
  });
});
)";

std::filesystem::path default_assets_dir() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return (exe.parent_path() / ".." / "share" / "testino" / "api-ui").lexically_normal();
}

std::optional<std::string> read_asset(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) return std::nullopt;
    const auto size = std::filesystem::file_size(file, ec);
    if (ec || size > kMaxAssetBytes) return std::nullopt;
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) return std::nullopt;
    return text.str();
}

DocsReply page_reply(int status, std::string body) {
    return DocsReply{status,
                     std::move(body),
                     {{"Content-Type", kHtml},
                      {"Cache-Control", "no-cache"},
                      {"Content-Security-Policy", kPageCsp},
                      {"Referrer-Policy", "no-referrer"}}};
}

// What a page says when its files are not installed: how to install them.
std::string missing_page(const std::string& page, const std::string& missing) {
    const std::string ui = page == DocsPages::kDocsPath ? "Swagger UI" : "Redoc";
    return html_page(
        "API docs not installed", "",
        "<h1>API docs not installed</h1>\n"
        "<p>This page shows the API with " +
            ui +
            ", whose files this server did not find in its <code>server.docs_assets_dir</code> "
            "folder (missing: <code>" +
            missing +
            "</code>).</p>\n"
            "<p>To install them:</p>\n<ul>\n"
            "<li>in a checkout of the server, run <code>scripts/setup.sh</code>, or "
            "<code>npm ci</code> in <code>docs/api-ui</code>, and point "
            "<code>server.docs_assets_dir</code> (environment <code>DOCS_ASSETS_DIR</code>) at "
            "<code>docs/api-ui/node_modules</code>;</li>\n"
            "<li>for an installed server, run <code>cmake --install</code> after that "
            "<code>npm ci</code> (it copies the files to <code>share/testino/api-ui</code>, "
            "the default folder), or copy the packages <code>swagger-ui-dist</code> and "
            "<code>redoc</code> into the folder <code>server.docs_assets_dir</code> names.</li>\n"
            "</ul>\n<p>Then restart the server. The API itself works without them; its "
            "description is at <a href=\"/openapi.json\">/openapi.json</a>.</p>\n");
}

}  // namespace

DocsPages DocsPages::load(const std::string& assets_dir) {
    DocsPages pages;
    pages.enabled_ = true;
    pages.dir_ = assets_dir.empty() ? default_assets_dir() : std::filesystem::path(assets_dir);
    for (const AssetFile& asset : kAssetFiles) {
        const std::filesystem::path file = pages.dir_ / asset.file;
        std::error_code ec;
        const bool present = std::filesystem::is_regular_file(file, ec) &&
                             std::filesystem::file_size(file, ec) <= kMaxAssetBytes && !ec;
        if (present) {
            pages.assets_->by_path[asset.request_path] =
                Asset{asset.content_type, file, asset.replace, asset.replacement, std::nullopt};
        } else {
            pages.missing_ += (pages.missing_.empty() ? "" : ", ") + std::string(asset.file);
        }
    }
    pages.assets_->by_path[kSwaggerInitPath] =
        Asset{"text/javascript; charset=utf-8", {}, nullptr, nullptr, std::string(kSwaggerInit)};
    return pages;
}

bool DocsPages::serves(const std::string& path) const {
    if (!enabled_) return false;
    if (path == kDocsPath || path == kRedocPath) return true;
    // Every API request passes here: answer them before the map lookup.
    if (path.rfind("/docs/assets/", 0) != 0 && path.rfind("/redoc/assets/", 0) != 0) return false;
    return assets_->by_path.count(path) != 0;
}

DocsReply DocsPages::asset_reply(const std::string& path) const {
    std::lock_guard<std::mutex> lock(assets_->mutex);
    Asset& asset = assets_->by_path.at(path);
    if (!asset.body) {
        std::optional<std::string> body = read_asset(asset.file);
        if (!body) {  // removed since start-up: tried again on the next request
            return DocsReply{503,
                             "This file of the API docs pages can no longer be read; reinstall them.\n",
                             {{"Content-Type", "text/plain; charset=utf-8"}, {"Cache-Control", "no-store"}}};
        }
        if (asset.replace != nullptr) {
            const std::string from = asset.replace;
            const std::string to = asset.replacement;
            for (auto at = body->find(from); at != std::string::npos; at = body->find(from, at + to.size())) {
                body->replace(at, from.size(), to);
            }
        }
        asset.body = std::move(body);
    }
    // The names carry no version: an upgrade of the packages shows within the hour.
    return DocsReply{
        200, *asset.body, {{"Content-Type", asset.content_type}, {"Cache-Control", "public, max-age=3600"}}};
}

std::optional<DocsReply> DocsPages::get(const std::string& path) const {
    if (!serves(path)) return std::nullopt;
    if (path == kDocsPath || path == kRedocPath) {
        std::string missing;
        for (const AssetFile& asset : kAssetFiles) {
            if (asset.page == path && assets_->by_path.count(asset.request_path) == 0) {
                missing += (missing.empty() ? "" : ", ") + std::string(asset.file);
            }
        }
        if (!missing.empty()) return page_reply(503, missing_page(path, missing));
        return page_reply(200, path == kDocsPath ? html_page(kTitle, kSwaggerHead, kSwaggerBody)
                                                 : html_page(kTitle, "", kRedocBody));
    }
    return asset_reply(path);
}

}  // namespace testino
