// Start-up wiring: from a validated config to the running application. Which plugins the
// config names, their config sections checked against their schemas, the SMS routes, and
// the objects the server runs (store, providers, dispatcher, flow), built in the order
// they must be torn down in reverse.
#pragma once

#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "plugins/plugin_loader.hpp"

namespace testino {

class DeliveryReceipts;
class OtpFlow;
class PluginHost;
class SmsDispatcher;
class WebhookDelivery;
class WebhookOutbox;

// The SMS providers the config names, each loaded once, and the routes between them.
struct SmsPlan {
    std::vector<LoadedPlugin> plugins;  // in the order first named
    std::vector<std::size_t> default_route;
    std::map<std::string, std::vector<std::size_t>> routes;
};

// Every plugin the config names, loaded, with its validated section. Outlives everything
// built from it (the objects' code lives in these libraries).
struct StartupPlan {
    LoadedPlugin store_plugin;
    SmsPlan sms;
    std::vector<ConfigSection> store_section;  // exactly one
    std::vector<ConfigSection> sms_sections;   // one per sms.plugins entry
};

// Loads and checks everything; throws StartupError naming the config key at fault.
StartupPlan plan_startup(const ConfigSource& source, const AppConfig& config, const PluginLoader& loader);

// "a -> b": a route's providers in order.
std::string describe_route(const SmsPlan& plan, const std::vector<std::size_t>& route);

// --check-config's report: the effective settings (secrets masked), plugins and routes.
void describe_plan(std::ostream& out, const AppConfig& config, const StartupPlan& plan);

// What the server runs. Members are destroyed bottom-up: the flow before the dispatcher
// before the providers and the store, and the hosts they log through last.
struct Application {
    std::unique_ptr<PluginHost> store_host;
    std::vector<std::unique_ptr<PluginHost>> sms_hosts;
    std::unique_ptr<SmsDispatcher> dispatcher;
    std::unique_ptr<WebhookOutbox> webhooks;     // with webhooks.urls; outlives the flow that files in it
    std::unique_ptr<DeliveryReceipts> receipts;  // outlives the flow that remembers sends in it
    std::unique_ptr<OtpFlow> flow;
    std::unique_ptr<WebhookDelivery> webhook_delivery;  // stops first

    Application();
    ~Application();
    Application(Application&&) noexcept;
};

Application build_application(const AppConfig& config, const StartupPlan& plan);

}  // namespace testino
