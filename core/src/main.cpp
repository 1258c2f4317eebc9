// testino-server: loads the config and the plugins it names, serves the API, drains on
// SIGTERM/SIGINT.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <iomanip>
#include <iostream>
#include <optional>
#include <string>

#include "config.hpp"
#include "http_server.hpp"
#include "logging.hpp"
#include "otp_service.hpp"
#include "plugin_loader.hpp"
#include "sms_dispatcher.hpp"
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
    std::cout << std::left << std::setw(14) << "KIND" << std::setw(12) << "NAME" << std::setw(10)
              << "VERSION" << std::setw(5) << "ABI" << "PATH\n";
    for (const PluginListing& p : loader.list()) {
        if (p.usable) {
            std::cout << std::setw(14) << sdk::to_string(p.descriptor.kind) << std::setw(12)
                      << p.descriptor.name << std::setw(10) << p.descriptor.version << std::setw(5)
                      << p.abi_version << p.path.string() << "  " << p.descriptor.description << "\n";
        } else {
            std::cout << std::setw(41) << "(unusable)" << p.problem << "\n";
        }
    }
    std::cout << "plugin directory: " << loader.directory().string() << "\n";
    return 0;
}

// Validates every plugin sub-section of `parent` ("sms" or "store") against the plugin it
// names, and returns the active plugins' sections, in their order.
std::vector<ConfigSection> plugin_sections(const ConfigSource& source, const AppConfig& config,
                                           const PluginLoader& loader, const std::string& parent,
                                           sdk::PluginKind kind,
                                           const std::vector<LoadedPlugin>& active) {
    auto is_active = [&](const std::string& name) {
        for (const auto& p : active) {
            if (p.descriptor().name == name) return true;
        }
        return false;
    };
    std::vector<LoadedPlugin> installed;  // loaded only for a section no active plugin has
    for (const std::string& name : config.section(parent).subsections()) {
        if (is_active(name)) continue;
        if (installed.empty()) installed = loader.all_of_kind(kind);
        const LoadedPlugin* match = nullptr;
        std::vector<std::string> names;
        for (const auto& p : active) names.push_back(p.descriptor().name);
        for (const auto& p : installed) {
            names.push_back(p.descriptor().name);
            if (p.descriptor().name == name) match = &p;
        }
        if (match == nullptr) {
            const std::string suggestion = nearest(name, names);
            std::string list;
            for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
            throw StartupError(config.file + ": " + parent + "." + name + ": no " +
                               sdk::to_string(kind) + " plugin of that name" +
                               (suggestion.empty() ? "" : " (did you mean \"" + suggestion + "\"?)") +
                               "; available: " + list);
        }
        ConfigSection(source, parent + "." + name, match->descriptor().config_keys);
    }
    std::vector<ConfigSection> sections;
    for (const auto& p : active) {
        sections.emplace_back(source, parent + "." + p.descriptor().name, p.descriptor().config_keys);
    }
    return sections;
}

// The SMS providers the config names, each loaded once, and the routes between them.
struct SmsPlan {
    std::vector<LoadedPlugin> plugins;  // in the order first named
    std::vector<std::size_t> default_route;
    std::map<std::string, std::vector<std::size_t>> routes;
};

SmsPlan plan_sms(const AppConfig& config, const PluginLoader& loader) {
    SmsPlan plan;
    std::vector<std::string> named;  // as written, to load each name or path once
    auto indices = [&](const std::vector<std::string>& names, const std::string& setting) {
        std::vector<std::size_t> route;
        for (const std::string& name : names) {
            const auto it = std::find(named.begin(), named.end(), name);
            if (it != named.end()) {
                route.push_back(static_cast<std::size_t>(it - named.begin()));
                continue;
            }
            LoadedPlugin plugin = loader.load(name, sdk::PluginKind::sms_provider, config.file + ": " + setting);
            for (std::size_t i = 0; i < plan.plugins.size(); ++i) {
                if (plan.plugins[i].descriptor().name == plugin.descriptor().name) {
                    throw StartupError(config.file + ": " + setting + ": \"" + name +
                                       "\" is the plugin \"" + plugin.descriptor().name +
                                       "\" again, named another way (\"" + named[i] + "\")");
                }
            }
            named.push_back(name);
            plan.plugins.push_back(std::move(plugin));
            route.push_back(plan.plugins.size() - 1);
        }
        return route;
    };
    const bool listed = config.section("sms").has("providers");  // else sms.provider or its default
    plan.default_route = indices(config.sms.providers, listed ? "sms.providers" : "sms.provider");
    for (const auto& [code, names] : config.sms.routes) {
        plan.routes.emplace(code, indices(names, "sms.routes." + code));
    }
    return plan;
}

std::string describe_route(const SmsPlan& plan, const std::vector<std::size_t>& route) {
    std::string text;
    for (const std::size_t i : route) text += (text.empty() ? "" : " -> ") + plan.plugins[i].descriptor().name;
    return text;
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

int run(const Options& options, const sigset_t& stop_signals) {
    const ConfigSource source = ConfigSource::load(options.config);
    if (options.list_plugins) return list_plugins(PluginLoader(plugin_directory(source, default_plugin_dir())));
    const AppConfig config = load_app_config(source, default_plugin_dir());
    Logger::set_level(config.server.log_level);
    const PluginLoader loader(config.plugin_dir);

    const LoadedPlugin store_plugin =
        loader.load(config.store.backend, sdk::PluginKind::otp_store, config.file + ": store.backend");
    const SmsPlan sms = plan_sms(config, loader);
    const ConfigSection store_section =
        plugin_sections(source, config, loader, "store", sdk::PluginKind::otp_store, {store_plugin}).front();
    const std::vector<ConfigSection> sms_sections =
        plugin_sections(source, config, loader, "sms", sdk::PluginKind::sms_provider, sms.plugins);
    const auto& allow = config.limits.country_allowlist;
    for (const auto& entry : config.sms.routes) {
        if (!allow.empty() && std::find(allow.begin(), allow.end(), entry.first) == allow.end()) {
            log_warn("config.route_unused", {{"detail", "sms.routes has a route for +" + entry.first +
                                                            ", which limits.country_allowlist refuses"}});
        }
    }

    if (options.check_config) {
        std::cout << "# " << config.file << ": valid\n";
        for (const auto& section : config.sections) section.describe(std::cout);
        store_section.describe(std::cout);
        for (const auto& section : sms_sections) section.describe(std::cout);
        std::cout << "# store plugin: " << store_plugin.path().string() << "\n";
        for (const auto& plugin : sms.plugins) {
            std::cout << "# sms plugin: " << plugin.path().string() << "\n";
        }
        std::cout << "# sms route, every number: " << describe_route(sms, sms.default_route) << "\n";
        for (const auto& [code, route] : sms.routes) {
            std::cout << "# sms route, +" << code << ": " << describe_route(sms, route) << "\n";
        }
        return 0;
    }

    // Hosts outlive the plugin objects that may keep a reference to them.
    PluginHost store_host(store_plugin.descriptor().name);
    std::vector<std::unique_ptr<PluginHost>> sms_hosts;
    const std::shared_ptr<sdk::OtpStore> store =
        store_plugin.create_otp_store(sdk::PluginContext{store_section, store_host});
    SmsRouting routing;
    routing.default_route = sms.default_route;
    routing.routes = sms.routes;
    std::vector<PluginHealthSource> health;
    for (std::size_t i = 0; i < sms.plugins.size(); ++i) {
        const LoadedPlugin& plugin = sms.plugins[i];
        const std::string& name = plugin.descriptor().name;
        sms_hosts.push_back(std::make_unique<PluginHost>(name));
        std::shared_ptr<sdk::SmsProvider> provider =
            plugin.create_sms_provider(sdk::PluginContext{sms_sections[i], *sms_hosts.back()});
        health.push_back({sdk::PluginKind::sms_provider, name, plugin.descriptor().version,
                          [provider] { return provider->health(); }});
        routing.channels.push_back({name, std::move(provider)});
        if (name == "console") {
            log_warn("sms.console_provider",
                     {{"detail", "the console provider writes codes to the log: development only"}});
        }
    }
    health.push_back({sdk::PluginKind::otp_store, store_plugin.descriptor().name,
                      store_plugin.descriptor().version, [store] { return store->health(); }});

    if (config.token.secret_generated) {
        log_warn("config.token_secret_generated",
                 {{"detail", "DEBUG is on and no token secret is set: tokens are signed with a "
                             "throwaway secret and die with this process"}});
    }

    OtpService service(config.otp, config.token, config.limits, config.test_numbers, store);
    SmsDispatcher dispatcher(std::move(routing), config.sms.workers, config.sms.queue_size,
                             config.sms.timeout);
    HttpServer server(config.server, config.limits.trusted_proxies, service, dispatcher,
                      std::move(health));
    server.start();
    log_info("server.listening", {{"host", config.server.host},
                                  {"port", static_cast<int>(server.port())},
                                  {"version", kVersion},
                                  {"sms_provider", describe_route(sms, sms.default_route)},
                                  {"store", store_plugin.descriptor().name}});
    for (const auto& [code, route] : sms.routes) {
        log_info("sms.route", {{"calling_code", code}, {"providers", describe_route(sms, route)}});
    }

    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    log_info("server.draining", {{"signal", strsignal(signal_number)},
                                 {"grace_ms", static_cast<long>(config.server.shutdown_grace.count())}});
    server.begin_drain();
    const bool idle = server.wait_idle(config.server.shutdown_grace);
    dispatcher.stop();  // answers what is still queued, waits for running sends
    server.stop();
    log_info("server.stopped", {{"clean", idle}});
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = 0;
    const std::optional<Options> options = parse_arguments(argc, argv, exit_code);
    if (!options) return exit_code;

    // Block the stop signals before any thread starts, so only sigwait() sees them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
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
