// The exposition's channel families: codes sent and verified by the channel that carried
// them (their ratio is each channel's conversion), and workflow steps that fell through.
#include "observability/metrics.hpp"

namespace testino::metrics {

void Registry::write_channels(std::ostringstream& out) const {
    family(out, "testino_codes_sent_total", "counter",
           "Codes a provider accepted, by channel (sms, whatsapp, voice); test numbers send none.");
    for (const sdk::Channel c : sdk::kAllChannels) {
        out << "testino_codes_sent_total{" << label("channel", sdk::to_string(c)) << "} "
            << codes_sent_[channel_slot(c)].value() << '\n';
    }
    family(out, "testino_codes_verified_total", "counter",
           "Codes verified, by the channel that carried them: divided by testino_codes_sent_total, "
           "each channel's conversion.");
    for (const sdk::Channel c : sdk::kAllChannels) {
        out << "testino_codes_verified_total{" << label("channel", sdk::to_string(c)) << "} "
            << codes_verified_[channel_slot(c)].value() << '\n';
    }
    family(out, "testino_channel_fallbacks_total", "counter",
           "Sends of a channel workflow whose channel certainly failed and went on to the next "
           "channel at once, by the channel that failed and the one tried next.");
    for (const sdk::Channel from : sdk::kAllChannels) {
        for (const sdk::Channel to : sdk::kAllChannels) {
            const std::uint64_t v =
                channel_fallbacks_[channel_slot(from) * kChannels + channel_slot(to)].value();
            if (v == 0) continue;
            out << "testino_channel_fallbacks_total{" << label("from", sdk::to_string(from)) << ','
                << label("to", sdk::to_string(to)) << "} " << v << '\n';
        }
    }
}

}  // namespace testino::metrics
