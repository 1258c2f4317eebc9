#include "app/startup.hpp"

#include <algorithm>
#include <ctime>
#include <ostream>

#include "app/delivery_receipts.hpp"
#include "app/otp_flow.hpp"
#include "app/sms_dispatcher.hpp"
#include "app/webhook_delivery.hpp"
#include "app/webhook_outbox.hpp"
#include "domain/sms_segments.hpp"
#include "observability/logging.hpp"

namespace testino {
namespace {

// Validates every plugin sub-section of `parent` ("sms" or "store") against the plugin it
// names, and returns the active plugins' sections, in their order.
std::vector<ConfigSection> plugin_sections(const ConfigSource& source, const AppConfig& config,
                                           const PluginLoader& loader, const std::string& parent,
                                           sdk::PluginKind kind, const std::vector<LoadedPlugin>& active) {
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
            throw StartupError(config.file + ": " + parent + "." + name + ": no " + sdk::to_string(kind) +
                               " plugin of that name" +
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
            LoadedPlugin plugin =
                loader.load(name, sdk::PluginKind::sms_provider, config.file + ": " + setting);
            for (std::size_t i = 0; i < plan.plugins.size(); ++i) {
                if (plan.plugins[i].descriptor().name == plugin.descriptor().name) {
                    throw StartupError(config.file + ": " + setting + ": \"" + name + "\" is the plugin \"" +
                                       plugin.descriptor().name + "\" again, named another way (\"" +
                                       named[i] + "\")");
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

}  // namespace

std::string describe_route(const SmsPlan& plan, const std::vector<std::size_t>& route) {
    std::string text;
    for (const std::size_t i : route)
        text += (text.empty() ? "" : " -> ") + plan.plugins[i].descriptor().name;
    return text;
}

namespace {

std::string date_of(std::int64_t unix_time) {
    const std::time_t t = static_cast<std::time_t>(unix_time - 1);  // the last second it works
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[16];
    std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
    return text;
}

// Settings that make the server weaker than its defaults are said at every start, so they
// cannot linger unnoticed.
void warn_about_weakened_settings(const AppConfig& config) {
    for (const TestNumber& t : config.test_numbers) {
        // The number's last digits only: enough for ops to recognise it.
        const std::string tail = t.e164.substr(t.e164.size() > 4 ? t.e164.size() - 4 : 0);
        const bool expired = t.expires_at <= static_cast<std::int64_t>(std::time(nullptr));
        log_warn(expired ? "config.test_number_expired" : "config.test_number_active",
                 {{"number_ending", tail},
                  {"expires", date_of(t.expires_at)},
                  {"detail", expired ? "this test number no longer works; remove it from test_numbers"
                                     : "this number verifies with a fixed code and receives no SMS"}});
    }
    const OtpConfig& otp = config.otp;
    if (otp.length < 6 || otp.expiry > std::chrono::seconds(600)) {
        log_warn("config.weaker_than_nist", {{"length", otp.length},
                                             {"expiry_seconds", otp.expiry.count()},
                                             {"detail",
                                              "otp.allow_weaker_than_nist accepts codes below "
                                              "NIST SP 800-63B 5.1.3 (6 digits, 10 minutes)"}});
    }
    if (otp.allow_voip) {
        log_warn("config.voip_allowed", {{"detail", "otp.allow_voip_numbers: codes go to VOIP numbers too"}});
    }
    const LimitsConfig& l = config.limits;
    const std::int64_t reachable = static_cast<std::int64_t>(otp.max_attempts) * l.number_sends;
    if (l.number_failed_verifies_all > 0 && l.number_sends > 0 && l.number_failed_verifies_all < reachable) {
        log_warn("config.lockout_possible",
                 {{"detail",
                   "limits.number_failed_verifies_all_addresses_per_window is below "
                   "otp.max_attempts x limits.number_sends_per_window (" +
                       std::to_string(reachable) +
                       "): strangers guessing from many addresses can lock a number's owner out"}});
    }
}

// Android's SMS Retriever reads a message of at most 140 bytes, one SMS ("Be no longer than 140
// bytes", developers.google.com/identity/sms-retriever/verify): said for the locales whose
// longest message is longer, since their Android users will type the code.
void warn_about_long_android_messages(const OtpConfig& otp) {
    const MessageSettings& m = otp.messages;
    if (m.autofill.android_app_hash.empty()) return;
    const MessageCatalog catalog(m, otp.message_template);
    const std::string code(static_cast<std::size_t>(otp.length), '0');
    std::vector<std::string> long_ones;
    for (const auto& entry : m.templates) {
        if (count_sms_segments(catalog.render(entry.first, code, otp.expiry.count())).segments > 1) {
            long_ones.push_back(entry.first);
        }
    }
    if (long_ones.empty()) return;
    std::string list;
    for (const std::string& locale : long_ones) list += (list.empty() ? "" : ", ") + locale;
    log_warn(
        "config.android_message_too_long",
        {{"locales", list},
         {"detail",
          "otp.android_app_hash is set, but these locales' messages are longer than one SMS (140 bytes), "
          "which Android's SMS Retriever does not read; shorten their otp.templates"}});
}

}  // namespace

StartupPlan plan_startup(const ConfigSource& source, const AppConfig& config, const PluginLoader& loader) {
    warn_about_weakened_settings(config);
    warn_about_long_android_messages(config.otp);
    LoadedPlugin store_plugin =
        loader.load(config.store.backend, sdk::PluginKind::otp_store, config.file + ": store.backend");
    SmsPlan sms = plan_sms(config, loader);
    std::vector<ConfigSection> store_section =
        plugin_sections(source, config, loader, "store", sdk::PluginKind::otp_store, {store_plugin});
    std::vector<ConfigSection> sms_sections =
        plugin_sections(source, config, loader, "sms", sdk::PluginKind::sms_provider, sms.plugins);
    const auto& allow = config.limits.country_allowlist;
    for (const auto& entry : config.sms.routes) {
        if (!allow.empty() && std::find(allow.begin(), allow.end(), entry.first) == allow.end()) {
            log_warn("config.route_unused", {{"detail", "sms.routes has a route for +" + entry.first +
                                                            ", which limits.country_allowlist refuses"}});
        }
    }
    return StartupPlan{std::move(store_plugin), std::move(sms), std::move(store_section),
                       std::move(sms_sections)};
}

namespace {

// Each locale's longest SMS text and its cost, and the country defaults, for --check-config.
void describe_messages(std::ostream& out, const OtpConfig& otp) {
    const MessageSettings& m = otp.messages;
    const MessageCatalog catalog(m, otp.message_template);
    const std::string code(static_cast<std::size_t>(otp.length), '0');
    for (const auto& entry : m.templates) {
        std::string text = catalog.render(entry.first, code, otp.expiry.count());
        const SmsSegments cost = count_sms_segments(text);
        for (std::size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 2)) {
            text.replace(at, 1, "\\n");
        }
        out << "# sms text, " << entry.first << (entry.first == m.default_locale ? " (default)" : "") << ": "
            << cost.segments << (cost.segments == 1 ? " segment, " : " segments, ")
            << to_string(cost.encoding) << ", " << cost.units << " units: " << text << "\n";
    }
    std::string countries;
    for (const auto& [calling_code, locale] : m.country_locales) {
        countries += (countries.empty() ? "" : ", ") + ("+" + calling_code) + " " + locale;
    }
    out << "# sms locale by country: " << (countries.empty() ? "none" : countries) << "\n";
}

}  // namespace

void describe_plan(std::ostream& out, const AppConfig& config, const StartupPlan& plan) {
    out << "# " << config.file << ": valid\n";
    for (const auto& section : config.sections) section.describe(out);
    plan.store_section.front().describe(out);
    for (const auto& section : plan.sms_sections) section.describe(out);
    const TokenConfig& token = config.token;
    for (std::size_t i = 0; i < token.keys.size(); ++i) {
        out << "# token key: " << to_string(token.algorithm) << " kid \"" << token.keys[i]->kid()
            << "\" from " << token.key_origins[i] << (i == token.signing_key ? ", signs" : ", published only")
            << "\n";
    }
    out << "# store plugin: " << plan.store_plugin.path().string() << "\n";
    for (const auto& plugin : plan.sms.plugins) out << "# sms plugin: " << plugin.path().string() << "\n";
    out << "# sms route, every number: " << describe_route(plan.sms, plan.sms.default_route) << "\n";
    for (const auto& [code, route] : plan.sms.routes) {
        out << "# sms route, +" << code << ": " << describe_route(plan.sms, route) << "\n";
    }
    describe_messages(out, config.otp);
}

Application::Application() = default;
Application::~Application() = default;
Application::Application(Application&&) noexcept = default;

namespace {

void log_token_setup(const TokenConfig& token) {
    if (token.key_generated) {
        log_warn("config.token_key_generated",
                 {{"detail",
                   "DEBUG is on and no token key is set: tokens are signed with a throwaway key "
                   "and stop verifying when this process ends"}});
    }
    if (token.secret_unused) {
        log_warn("config.token_secret_unused",
                 {{"algorithm", to_string(token.algorithm)},
                  {"detail",
                   "token.secret (TOKEN_SECRET) is set but signs nothing: tokens are signed with a "
                   "private key; remove it"}});
    }
    log_info("token.signing",
             {{"algorithm", to_string(token.algorithm)},
              {"kid", token.keys[token.signing_key]->kid()},
              {"published_keys", static_cast<int>(is_asymmetric(token.algorithm) ? token.keys.size() : 0)}});
}

// Every channel of otp.channel_workflow has a provider that offers it (a route without one
// skips that step).
void check_channel_workflow(const AppConfig& config, const SmsDispatcher& dispatcher) {
    for (const sdk::Channel channel : config.otp.channel_workflow) {
        bool offered = false;
        for (std::size_t i = 0; i < dispatcher.channels().size(); ++i)
            offered = offered || dispatcher.offers(i, channel);
        if (!offered) {
            throw StartupError(config.section("otp").where("channel_workflow") + ": no SMS provider offers " +
                               sdk::to_string(channel) +
                               " (see --list-plugins for each provider's channels, and its keys that turn "
                               "them on)");
        }
    }
}

// Receipts are matched to their numbers through store records: without them, a receipt
// is counted but cannot become an event.
void start_receipts(const AppConfig& config, const LoadedPlugin& store_plugin,
                    const std::shared_ptr<sdk::OtpStore>& store, Application& app) {
    app.receipts =
        std::make_unique<DeliveryReceipts>(app.dispatcher->channels(), store, config.sms.receipt_ttl);
    app.flow->attribute_receipts(*app.receipts);
    for (const SmsChannel& channel : app.dispatcher->channels()) {
        if (!channel.provider->takes_callbacks()) continue;
        log_info("sms.receipts_enabled", {{"provider", channel.name},
                                          {"path", "/api/v1/callbacks/" + channel.name},
                                          {"attributed", store->keeps_records()}});
        if (!store->keeps_records()) {
            log_warn("sms.receipts_unattributed",
                     {{"provider", channel.name},
                      {"store", store_plugin.descriptor().name},
                      {"detail",
                       "this store keeps no records: delivery receipts are counted as unknown and publish "
                       "no otp.delivered / otp.failed events"}});
        }
    }
}

// The outbox lives in the store: one that keeps no queues cannot hold it.
void start_webhooks(const AppConfig& config, const LoadedPlugin& store_plugin,
                    const std::shared_ptr<sdk::OtpStore>& store, Application& app) {
    if (!config.webhooks.enabled()) return;
    if (!store->keeps_records()) {
        throw StartupError(
            config.section("webhooks").where("urls") + ": the store " + store_plugin.descriptor().name +
            " keeps no queues (plugin SDK records and queues), and the webhook outbox lives in "
            "the store; use a store that does (memory, redis), or remove webhooks.urls");
    }
    app.webhooks = std::make_unique<WebhookOutbox>(config.webhooks, store);
    app.flow->publish_to(*app.webhooks);
    if (app.receipts) app.receipts->publish_to(*app.webhooks);
    app.webhook_delivery = std::make_unique<WebhookDelivery>(*app.webhooks);
    log_info("webhooks.enabled", {{"receivers", static_cast<long long>(config.webhooks.urls.size())},
                                  {"store", store_plugin.descriptor().name}});
}

}  // namespace

Application build_application(const AppConfig& config, const StartupPlan& plan) {
    Application app;
    const LoadedPlugin& store_plugin = plan.store_plugin;
    app.store_host = std::make_unique<PluginHost>(store_plugin.descriptor().name);
    const std::shared_ptr<sdk::OtpStore> store =
        store_plugin.create_otp_store(sdk::PluginContext{plan.store_section.front(), *app.store_host});
    SmsRouting routing;
    routing.default_route = plan.sms.default_route;
    routing.routes = plan.sms.routes;
    std::vector<PluginHealthSource> health;
    for (std::size_t i = 0; i < plan.sms.plugins.size(); ++i) {
        const LoadedPlugin& plugin = plan.sms.plugins[i];
        const std::string& name = plugin.descriptor().name;
        app.sms_hosts.push_back(std::make_unique<PluginHost>(name));
        std::shared_ptr<sdk::SmsProvider> provider =
            plugin.create_sms_provider(sdk::PluginContext{plan.sms_sections[i], *app.sms_hosts.back()});
        health.push_back(
            {sdk::PluginKind::sms_provider, name, plugin.descriptor().version,
             [provider](sdk::StoreCompletion<sdk::HealthReport> done) { done(provider->health()); }});
        routing.channels.push_back({name, std::move(provider)});
    }
    health.push_back(
        {sdk::PluginKind::otp_store, store_plugin.descriptor().name, store_plugin.descriptor().version,
         [store](sdk::StoreCompletion<sdk::HealthReport> done) { store->health(std::move(done)); }});
    log_token_setup(config.token);
    app.dispatcher = std::make_unique<SmsDispatcher>(std::move(routing), config.sms.workers,
                                                     config.sms.queue_size, config.sms.timeout);
    check_channel_workflow(config, *app.dispatcher);
    app.flow = std::make_unique<OtpFlow>(config.otp, config.token, config.limits, config.test_numbers, store,
                                         *app.dispatcher, std::move(health));
    start_receipts(config, store_plugin, store, app);
    start_webhooks(config, store_plugin, store, app);
    return app;
}

}  // namespace testino
