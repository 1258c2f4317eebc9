// testino-server: loads the config and the plugins it names, serves the API, drains on
// SIGTERM/SIGINT.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "app/sms_dispatcher.hpp"
#include "app/startup.hpp"
#include "config/config.hpp"
#include "http/http_server.hpp"
#include "observability/logging.hpp"
#include "plugins/plugin_loader.hpp"
#include "testino/version.hpp"

namespace {

using namespace testino;

constexpr const char* kUsage =
    "Usage: testino-server [--config PATH] [--check-config | --list-plugins | --version | --help]\n"
    "\n"
    "  --config PATH    the YAML config (default: config/default.yaml)\n"
    "  --check-config   validate the config and the plugins it names, print the effective\n"
    "                   settings (secrets masked) and exit: 0 valid, 2 invalid\n"
    "  --list-plugins   list the plugins in the plugin directory and exit\n"
    "  --version        print the version and the plugin ABI version\n"
    "\n"
    "Environment variables override the file; a .env file in the working directory is read.\n";

struct Options {
    std::string config = "config/default.yaml";
    bool check_config = false;
    bool list_plugins = false;
};

std::filesystem::path default_plugin_dir() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return (exe.parent_path() / ".." / "lib" / "testino" / "plugins").lexically_normal();
}

int list_plugins(const PluginLoader& loader) {
    std::cout << std::left << std::setw(14) << "KIND" << std::setw(12) << "NAME" << std::setw(10) << "VERSION"
              << std::setw(5) << "ABI"
              << "PATH\n";
    for (const PluginListing& p : loader.list()) {
        if (p.usable) {
            std::cout << std::setw(14) << sdk::to_string(p.descriptor.kind) << std::setw(12)
                      << p.descriptor.name << std::setw(10) << p.descriptor.version << std::setw(5)
                      << p.abi_version << p.path.string() << "  " << p.descriptor.description;
            if (!p.descriptor.channels.empty()) {
                // What the plugin can send, whatever its config (SmsProvider::channels() may offer less).
                std::cout << " [channels:";
                for (const sdk::Channel channel : p.descriptor.channels)
                    std::cout << " " << sdk::to_string(channel);
                std::cout << "]";
            }
            std::cout << "\n";
        } else {
            std::cout << std::setw(41) << "(unusable)" << p.problem << "\n";
        }
    }
    std::cout << "plugin directory: " << loader.directory().string() << "\n";
    return 0;
}

std::optional<Options> parse_arguments(int argc, char** argv, int& exit_code) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--config" && i + 1 < argc) {
            options.config = argv[++i];
        } else if (arg.rfind("--config=", 0) == 0) {
            options.config = arg.substr(9);
        } else if (arg == "--check-config") {
            options.check_config = true;
        } else if (arg == "--list-plugins") {
            options.list_plugins = true;
        } else if (arg == "--version") {
            std::cout << "testino-server " << kVersion << " (plugin ABI " << sdk::kAbiVersion << ")\n";
            exit_code = 0;
            return std::nullopt;
        } else if (arg == "--help" || arg == "-h") {
            std::cout << kUsage;
            exit_code = 0;
            return std::nullopt;
        } else {
            std::cerr << "testino-server: unknown argument \"" << arg << "\"\n\n" << kUsage;
            exit_code = 2;
            return std::nullopt;
        }
    }
    return options;
}

// SIGHUP reloads nothing: Pistache 0.0.5 reads the TLS certificate once (README, section
// HTTPS), and the config is read once too. Say so instead of dying, SIGHUP's default.
void log_sighup(const ServerConfig& server) {
    if (server.tls.enabled()) {
        log_warn("tls.reload_unsupported",
                 {{"cert_file", server.tls.cert_file},
                  {"detail",
                   "SIGHUP received, but the certificate cannot be reloaded in a running server "
                   "(Pistache 0.0.5 makes its TLS context once); the old one is still served. Restart "
                   "to serve a new certificate: README, section HTTPS, gives a restart procedure that "
                   "loses no pending codes"}});
    } else {
        log_info("server.sighup_ignored",
                 {{"detail", "SIGHUP reloads nothing; restart the server to apply a new config"}});
    }
}

// Waits for SIGTERM or SIGINT, answering each SIGHUP meanwhile; returns the stop signal.
int wait_for_stop(const sigset_t& signals, const ServerConfig& server) {
    for (;;) {
        int signal_number = 0;
        sigwait(&signals, &signal_number);
        if (signal_number != SIGHUP) return signal_number;
        log_sighup(server);
    }
}

int run(const Options& options, const sigset_t& stop_signals) {
    const ConfigSource source = ConfigSource::load(options.config);
    if (options.list_plugins)
        return list_plugins(PluginLoader(plugin_directory(source, default_plugin_dir())));
    const AppConfig config = load_app_config(source, default_plugin_dir());
    Logger::set_level(config.server.log_level);
    const PluginLoader loader(config.plugin_dir);

    const StartupPlan plan = plan_startup(source, config, loader);
    if (options.check_config) {
        describe_plan(std::cout, config, plan);
        return 0;
    }

    Application app = build_application(config, plan);
    HttpServer server(config.server, config.limits, *app.flow);
    server.start();
    log_info("server.listening", {{"host", config.server.host},
                                  {"port", static_cast<int>(server.port())},
                                  {"admin_host", config.server.admin_host},
                                  {"admin_port", static_cast<int>(server.admin_port())},
                                  {"tls", config.server.tls.enabled()},
                                  {"version", kVersion},
                                  {"sms_provider", describe_route(plan.sms, plan.sms.default_route)},
                                  {"store", plan.store_plugin.descriptor().name}});
    for (const auto& [code, route] : plan.sms.routes) {
        log_info("sms.route", {{"calling_code", code}, {"providers", describe_route(plan.sms, route)}});
    }

    const int signal_number = wait_for_stop(stop_signals, config.server);
    log_info("server.draining", {{"signal", strsignal(signal_number)},
                                 {"grace_ms", static_cast<long>(config.server.shutdown_grace.count())}});
    server.begin_drain();
    const bool idle = server.wait_idle(config.server.shutdown_grace);
    app.dispatcher->stop();  // answers what is still queued, waits for running sends
    // The sends just answered finish their flows (a code removed, a reply written) on the
    // store's thread: let them before the listener and the application go.
    server.wait_idle(std::chrono::seconds(2));
    server.stop();
    log_info("server.stopped", {{"clean", idle}});
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = 0;
    const std::optional<Options> options = parse_arguments(argc, argv, exit_code);
    if (!options) return exit_code;

    // Block the stop signals (and SIGHUP) before any thread starts, so only sigwait() sees them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    signal(SIGPIPE, SIG_IGN);  // a client hanging up must not kill the server

    try {
        return run(*options, stop_signals);
    } catch (const StartupError& e) {
        std::cerr << "testino-server: " << e.what() << "\n";
        log_error("server.startup_failed", {{"detail", e.what()}});
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "testino-server: " << e.what() << "\n";
        log_error("server.startup_failed", {{"detail", e.what()}});
        return 2;
    }
}
