// The API docs pages /docs and /redoc: the pages, the files they load from
// server.docs_assets_dir (here a folder of stand-in files with the npm packages' layout;
// the real packages are driven in headless Chromium by tests/browser), no way out of the
// allowlist, the page that explains a missing install, and docs_enabled: false.
#include <filesystem>

#include "integration_common.hpp"

namespace testino::test {
namespace {

struct AssetCase {
    std::string request_path;
    std::string file;  // under docs_assets_dir
    std::string content;
    std::string content_type;
};

const std::vector<AssetCase>& assets() {
    static const std::vector<AssetCase> cases = {
        {"/docs/assets/swagger-ui-bundle.js", "swagger-ui-dist/swagger-ui-bundle.js",
         "var SwaggerUIBundle = 'stand-in bundle';\n", "text/javascript; charset=utf-8"},
        {"/docs/assets/swagger-ui.css", "swagger-ui-dist/swagger-ui.css", ".swagger-ui { color: red }\n",
         "text/css; charset=utf-8"},
        {"/docs/assets/favicon-32x32.png", "swagger-ui-dist/favicon-32x32.png",
         std::string("\x89PNG\r\n\x1a\n\0\0stand-in", 18), "image/png"},
        {"/redoc/assets/redoc.standalone.js", "redoc/bundles/redoc.standalone.js",
         "var Redoc = 'stand-in bundle';\n", "text/javascript; charset=utf-8"},
    };
    return cases;
}

// A docs_assets_dir with every file the pages load, or all but `leave_out`.
std::unique_ptr<TempDir> assets_dir(const std::string& leave_out = "") {
    auto dir = std::make_unique<TempDir>();
    for (const auto& a : assets()) {
        if (a.file == leave_out) continue;
        const auto slash = a.file.rfind('/');
        std::filesystem::create_directories(dir->file(a.file.substr(0, slash)));
        dir->write(a.file, a.content);
    }
    return dir;
}

TestConfig docs_config(const std::string& dir) {
    TestConfig config;
    config.server["docs_enabled"] = "true";
    config.server["docs_assets_dir"] = "\"" + dir + "\"";
    return config;
}

void expect_page_headers(const HttpResponse& r) {
    EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(r.header("Cache-Control"), "no-cache");
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    const std::string csp = r.header("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;  // no inline script
    EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

class DocsPagesTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = assets_dir();
        server_ = start_server(docs_config(dir_->path()));
        ASSERT_TRUE(server_);
        client_ = std::make_unique<HttpClient>(server_->port());
    }
    std::unique_ptr<TempDir> dir_;
    std::unique_ptr<ServerProcess> server_;
    std::unique_ptr<HttpClient> client_;
};

TEST_F(DocsPagesTest, DocsIsSwaggerUiOnTheOpenApiDocument) {
    const auto r = client_->get("/docs");
    ASSERT_EQ(r.status, 200) << r.body;
    expect_page_headers(r);
    EXPECT_TRUE(contains(r.body, R"(<link rel="stylesheet" href="/docs/assets/swagger-ui.css">)")) << r.body;
    EXPECT_TRUE(contains(r.body, R"(<script src="/docs/assets/swagger-ui-bundle.js"></script>)")) << r.body;
    EXPECT_TRUE(contains(r.body, R"(<script src="/docs/assets/swagger-init.js"></script>)")) << r.body;
    EXPECT_FALSE(contains(r.body, "<script>")) << "inline script: the CSP would block it";

    const auto init = client_->get("/docs/assets/swagger-init.js");
    ASSERT_EQ(init.status, 200);
    EXPECT_EQ(init.header("Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_TRUE(contains(init.body, "url: '/openapi.json'")) << init.body;
    EXPECT_TRUE(contains(init.body, "validatorUrl: null")) << "the validator badge calls an outside service";
}

TEST_F(DocsPagesTest, RedocIsRedocOnTheOpenApiDocument) {
    const auto r = client_->get("/redoc");
    ASSERT_EQ(r.status, 200) << r.body;
    expect_page_headers(r);
    EXPECT_TRUE(contains(r.body, R"(<redoc spec-url="/openapi.json"></redoc>)")) << r.body;
    EXPECT_TRUE(contains(r.body, R"(<script src="/redoc/assets/redoc.standalone.js"></script>)")) << r.body;
    EXPECT_FALSE(contains(r.body, "<script>")) << "inline script: the CSP would block it";
}

TEST_F(DocsPagesTest, ServesEachFileWithItsTypeAndCaching) {
    for (const auto& a : assets()) {
        SCOPED_TRACE(a.request_path);
        const auto r = client_->get(a.request_path);
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.body, a.content);
        EXPECT_EQ(r.header("Content-Type"), a.content_type);
        EXPECT_EQ(r.header("Cache-Control"), "public, max-age=3600");
        EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    }
}

TEST_F(DocsPagesTest, OnlyTheListedFilesAreServed) {
    // Another file in the packages' folders, and names near the listed ones.
    dir_->write("swagger-ui-dist/index.html", "not listed");
    for (const std::string path :
         {"/docs/assets/index.html", "/docs/assets/swagger-ui-dist/swagger-ui.css", "/docs/assets/",
          "/docs/assets", "/docs/", "/redoc/", "/docs/assets/SWAGGER-UI.CSS", "/redoc/assets/swagger-ui.css",
          "/docs/assets/redoc.standalone.js", "/docs/assets/swagger-ui.css/",
          "/redoc/bundles/redoc.standalone.js"}) {
        EXPECT_TRUE(is_api_error(client_->get(path), 404, "NOT_FOUND")) << path;
    }
    // Methods other than GET.
    EXPECT_TRUE(is_api_error(client_->request("POST", "/docs", "{}", {"Content-Type: application/json"}), 405,
                             "METHOD_NOT_ALLOWED"));
    EXPECT_TRUE(
        is_api_error(client_->request("DELETE", "/docs/assets/swagger-ui.css"), 405, "METHOD_NOT_ALLOWED"));
}

TEST_F(DocsPagesTest, NoPathLeavesTheAllowlist) {
    // The files exist at these relative places: a server that joined paths would find them.
    dir_->write("secret.txt", "SECRET-FILE");
    const std::vector<std::string> paths = {
        "/docs/assets/../../etc/passwd",
        "/docs/assets/../../../../../../etc/passwd",
        "/docs/assets/%2e%2e/%2e%2e/etc/passwd",
        "/docs/assets/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/docs/assets/..%2f..%2fetc%2fpasswd",
        "/docs/assets/....//....//etc/passwd",
        "/docs/assets/..\\..\\etc\\passwd",
        "/docs/assets/%252e%252e/etc/passwd",
        "/docs/assets/../secret.txt",
        "/docs/assets/../../secret.txt",
        "/docs/assets/%2e%2e/%2e%2e/secret.txt",
        "/docs/assets//etc/passwd",
        "/docs/assets/swagger-ui.css/../../../secret.txt",
        "/docs/assets/swagger-ui.css%00.png",
        "/redoc/assets/../../../../etc/passwd",
        "/docs/../etc/passwd",
    };
    for (const auto& path : paths) {
        SCOPED_TRACE(path);
        // Raw bytes: libcurl would tidy the dot segments away before sending.
        RawConnection connection(server_->port());
        ASSERT_TRUE(
            connection.send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
        const auto r = connection.read_response(5s);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 404) << r->body;
        EXPECT_FALSE(contains(r->body, "root:")) << r->body;
        EXPECT_FALSE(contains(r->body, "SECRET-FILE")) << r->body;
        EXPECT_TRUE(contains(r->body, "\"NOT_FOUND\"")) << r->body;
    }
}

TEST(DocsPagesRedocBundleTest, ServedWithoutTheThirdPartyLogoUrl) {
    // Redoc's bundle loads Redocly's logo from their CDN; the page's CSP would refuse it.
    auto dir = assets_dir();
    const std::string cdn = "https://cdn.redoc.ly/redoc/logo-mini.svg";
    dir->write("redoc/bundles/redoc.standalone.js", "a({src:\"" + cdn + "\"}); b(\"" + cdn + "\");\n");
    auto server = start_server(docs_config(dir->path()));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    const auto r = client.get("/redoc/assets/redoc.standalone.js");
    ASSERT_EQ(r.status, 200);
    EXPECT_FALSE(contains(r.body, "cdn.redoc.ly")) << r.body;
    EXPECT_EQ(r.body,
              "a({src:\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E\"}); "
              "b(\"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E\");\n");
}

std::size_t warnings_with_event(const ServerProcess& server, const std::string& event) {
    std::size_t count = 0;
    for (const auto& line : server.log_lines()) {
        const auto entry = parse_json(line);
        if (!entry.HasParseError() && json_string(entry, "level") == "warn" &&
            json_string(entry, "event") == event) {
            ++count;
        }
    }
    return count;
}

TEST(DocsPagesMissingTest, PagesSayHowToInstallAndTheApiStillWorks) {
    TempDir empty;
    auto server = start_server(docs_config(empty.path()));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    for (const std::string page : {"/docs", "/redoc"}) {
        SCOPED_TRACE(page);
        const auto r = client.get(page);
        EXPECT_EQ(r.status, 503);
        expect_page_headers(r);
        EXPECT_TRUE(contains(r.body, "API docs not installed")) << r.body;
        EXPECT_TRUE(contains(r.body, "scripts/setup.sh")) << r.body;
        EXPECT_TRUE(contains(r.body, "npm ci")) << r.body;
        EXPECT_TRUE(contains(r.body, "docs/api-ui")) << r.body;
        EXPECT_TRUE(contains(r.body, "server.docs_assets_dir")) << r.body;
        EXPECT_TRUE(contains(r.body, "DOCS_ASSETS_DIR")) << r.body;
        EXPECT_FALSE(contains(r.body, empty.path())) << "the page shows no server path";
        EXPECT_FALSE(contains(r.body, "<script")) << r.body;
    }
    EXPECT_TRUE(contains(client.get("/docs").body, "swagger-ui-dist/swagger-ui-bundle.js"));
    EXPECT_TRUE(contains(client.get("/redoc").body, "redoc/bundles/redoc.standalone.js"));
    EXPECT_TRUE(is_api_error(client.get("/docs/assets/swagger-ui-bundle.js"), 404, "NOT_FOUND"));

    // The API itself is unaffected.
    EXPECT_EQ(client.get("/openapi.json").status, 200);
    EXPECT_EQ(client.get(kHealth).status, 200);
    EXPECT_EQ(client.post_json(kSendOtp, send_body("+1", "2025550190")).status, 200);

    // One warning at start-up, naming the folder; none per request.
    EXPECT_EQ(warnings_with_event(*server, "docs.assets_missing"), 1u) << server->stdout_text();
    const auto warning = server->wait_for_log(
        [](const std::string& line) { return contains(line, "\"docs.assets_missing\""); }, 1s);
    ASSERT_TRUE(warning);
    EXPECT_TRUE(contains(*warning, empty.path())) << *warning;
}

TEST(DocsPagesMissingTest, OnePackageMissingBreaksOnlyItsPage) {
    auto dir = assets_dir("redoc/bundles/redoc.standalone.js");
    auto server = start_server(docs_config(dir->path()));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    EXPECT_EQ(client.get("/docs").status, 200);
    const auto redoc = client.get("/redoc");
    EXPECT_EQ(redoc.status, 503);
    EXPECT_TRUE(contains(redoc.body, "redoc/bundles/redoc.standalone.js")) << redoc.body;
    EXPECT_FALSE(contains(redoc.body, "swagger-ui-dist/")) << redoc.body;
    EXPECT_EQ(warnings_with_event(*server, "docs.assets_missing"), 1u) << server->stdout_text();
}

// A file is read when first served, then kept: one removed before anyone asked for it is a
// 503 (and the server goes on), one already served stays served.
TEST(DocsPagesLazyTest, FilesAreReadOnFirstUseAndKept) {
    auto dir = assets_dir();
    auto server = start_server(docs_config(dir->path()));
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    ASSERT_EQ(client.get("/docs/assets/swagger-ui.css").status, 200);
    std::filesystem::remove(dir->file("swagger-ui-dist/swagger-ui.css"));
    std::filesystem::remove(dir->file("swagger-ui-dist/swagger-ui-bundle.js"));
    const auto kept = client.get("/docs/assets/swagger-ui.css");
    EXPECT_EQ(kept.status, 200);
    EXPECT_EQ(kept.body, ".swagger-ui { color: red }\n");
    const auto gone = client.get("/docs/assets/swagger-ui-bundle.js");
    EXPECT_EQ(gone.status, 503);
    EXPECT_TRUE(contains(gone.body, "reinstall")) << gone.body;
    dir->write("swagger-ui-dist/swagger-ui-bundle.js", "var SwaggerUIBundle = 'back';\n");
    EXPECT_EQ(client.get("/docs/assets/swagger-ui-bundle.js").body, "var SwaggerUIBundle = 'back';\n")
        << "a file that could not be read is tried again";
    EXPECT_EQ(client.get("/api/v1/health").status, 200);
}

TEST(DocsPagesDisabledTest, DocsEnabledFalseServesNothingAndWarnsNothing) {
    TempDir empty;
    TestConfig config = docs_config(empty.path());  // would warn if it were read
    config.server["docs_enabled"] = "false";
    auto server = start_server(config);
    ASSERT_TRUE(server);
    HttpClient client(server->port());
    for (const std::string path :
         {"/docs", "/redoc", "/docs/assets/swagger-init.js", "/docs/assets/swagger-ui.css"}) {
        EXPECT_TRUE(is_api_error(client.get(path), 404, "NOT_FOUND")) << path;
    }
    EXPECT_EQ(client.get("/openapi.json").status, 200);
    EXPECT_EQ(warnings_with_event(*server, "docs.assets_missing"), 0u) << server->stdout_text();
}

}  // namespace
}  // namespace testino::test
