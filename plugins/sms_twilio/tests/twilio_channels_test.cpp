// The twilio provider's WhatsApp and voice channels: which channels its settings switch on,
// the requests it sends for each (checked by the fake Twilio as Twilio would), the TwiML of
// a code call, and the error mapping of calls.
#include <gtest/gtest.h>

#include "fake_twilio.hpp"
#include "plugin_doubles.hpp"
#include "twilio_provider.hpp"
#include "twilio_test_values.hpp"

namespace testino::plugins::twilio {
namespace {

using namespace std::chrono_literals;
using sdk::Channel;
using sdk::SendStatus;
using test::FakeTwilio;
using test::kFakeAuthToken;
using test::kFakeContentSid;
using test::kFakeFrom;
using test::kFakeServiceSid;
using test::kFakeVoiceFrom;
using test::kFakeWhatsAppFrom;
using test::twilio_error;
using test_support::RecordingHost;
using Clock = std::chrono::steady_clock;

constexpr const char* kCode = "482913";

std::map<std::string, std::string> with(std::map<std::string, std::string> values,
                                        const std::map<std::string, std::string>& overrides) {
    for (const auto& [key, value] : overrides) {
        if (value.empty()) {
            values.erase(key);
        } else {
            values[key] = value;
        }
    }
    return values;
}

TEST(TwilioChannelSettings, SmsAndVoiceFromASenderNumberWhatsAppOnlyWithBothKeys) {
    EXPECT_EQ(channels_of(settings_from(valid_values())),
              (std::vector<Channel>{Channel::sms, Channel::voice}));
    const auto whatsapp = settings_from(with(
        valid_values(), {{"whatsapp_from", kFakeWhatsAppFrom}, {"whatsapp_content_sid", kFakeContentSid}}));
    EXPECT_EQ(channels_of(whatsapp), (std::vector<Channel>{Channel::sms, Channel::whatsapp, Channel::voice}));
    EXPECT_EQ(whatsapp.voice_from, kFakeFrom) << "voice calls from the SMS number by default";
}

TEST(TwilioChannelSettings, AMessagingServiceAloneSendsNoVoiceUnlessVoiceFromIsSet) {
    const auto service = with(valid_values(), {{"from", ""}, {"messaging_service_sid", kFakeServiceSid}});
    EXPECT_EQ(channels_of(settings_from(service)), std::vector<Channel>{Channel::sms});
    const auto voice = settings_from(with(service, {{"voice_from", kFakeVoiceFrom}}));
    EXPECT_EQ(channels_of(voice), (std::vector<Channel>{Channel::sms, Channel::voice}));
    EXPECT_EQ(voice.voice_from, kFakeVoiceFrom);
}

TEST(TwilioChannelSettings, RefusesHalfAWhatsAppSetupAndBadShapesNamingTheKey) {
    const std::string alone = config_error(with(valid_values(), {{"whatsapp_from", kFakeWhatsAppFrom}}));
    EXPECT_NE(alone.find("test config: whatsapp_content_sid: WhatsApp needs both"), std::string::npos)
        << alone;
    const std::string sid_alone =
        config_error(with(valid_values(), {{"whatsapp_content_sid", kFakeContentSid}}));
    EXPECT_NE(sid_alone.find("test config: whatsapp_from: WhatsApp needs both"), std::string::npos)
        << sid_alone;
    const std::string prefixed =
        config_error(with(valid_values(), {{"whatsapp_from", "whatsapp:+14155238886"},
                                           {"whatsapp_content_sid", kFakeContentSid}}));
    EXPECT_NE(prefixed.find("test config: whatsapp_from: must be the WhatsApp sender's number in E.164"),
              std::string::npos)
        << prefixed;
    const std::string bad_sid = config_error(
        with(valid_values(), {{"whatsapp_from", kFakeWhatsAppFrom}, {"whatsapp_content_sid", "HX123"}}));
    EXPECT_NE(bad_sid.find("test config: whatsapp_content_sid: must be a Content SID: HX followed by 32 hex"),
              std::string::npos)
        << bad_sid;
    const std::string bad_voice = config_error(with(valid_values(), {{"voice_from", "15005550007"}}));
    EXPECT_NE(bad_voice.find("test config: voice_from: must be a phone number in E.164"), std::string::npos)
        << bad_voice;
}

TEST(TwilioVoiceTwiml, SaysTheCodeDigitByDigitTwiceWithAPause) {
    EXPECT_EQ(voice_twiml("482913", ""),
              "<Response><Say language=\"en-US\" voice=\"Google.en-US-Standard-C\">Your verification code "
              "is</Say><Say language=\"en-US\" voice=\"Google.en-US-Standard-C\">4, 8, 2, 9, 1, 3.</Say>"
              "<Pause length=\"1\"/><Say language=\"en-US\" voice=\"Google.en-US-Standard-C\">4, 8, 2, 9, 1, "
              "3.</Say></Response>");
}

TEST(TwilioVoiceTwiml, SpeaksTheLocaleWhereAVoiceIsMappedElseEnglish) {
    EXPECT_STREQ(say_voice_for("es").language, "es-ES");
    EXPECT_STREQ(say_voice_for("es-MX").language, "es-ES");
    EXPECT_STREQ(say_voice_for("pt").language, "pt-BR");
    EXPECT_STREQ(say_voice_for("PT-br").language, "pt-BR");
    EXPECT_STREQ(say_voice_for("hi").language, "hi-IN");
    EXPECT_STREQ(say_voice_for("zh-Hans-CN").language, "cmn-CN");
    EXPECT_STREQ(say_voice_for("ar").language, "ar-XA");
    EXPECT_STREQ(say_voice_for("ja").language, "ja-JP");
    EXPECT_STREQ(say_voice_for("ko").language, "ko-KR");
    EXPECT_STREQ(say_voice_for("vi").language, "vi-VN");
    EXPECT_STREQ(say_voice_for("fr-CA").language, "fr-FR");
    EXPECT_STREQ(say_voice_for("sw").language, "en-US") << "no voice mapped: English";
    EXPECT_STREQ(say_voice_for("").language, "en-US");
    const std::string french = voice_twiml("12", "fr");
    EXPECT_NE(
        french.find("<Say language=\"fr-FR\" voice=\"Google.fr-FR-Standard-A\">Votre code de vérification "
                    "est</Say>"),
        std::string::npos)
        << french;
}

TEST(TwilioVoiceTwiml, EscapesEverythingItPutsInXml) {
    const std::string twiml = voice_twiml("1<&>\"'", "en");
    EXPECT_NE(twiml.find("1, &lt;, &amp;, &gt;, &quot;, &apos;."), std::string::npos) << twiml;
    EXPECT_EQ(twiml.find("<&"), std::string::npos);
    EXPECT_EQ(whatsapp_variables("12\"3\\"), "{\"1\":\"12\\\"3\\\\\"}");
}

class TwilioChannelsTest : public ::testing::Test {
protected:
    TwilioProvider& provider(const std::map<std::string, std::string>& overrides = {}) {
        provider_ = std::make_unique<TwilioProvider>(
            settings_from(
                with(valid_values(fake_.base_url()),
                     with({{"whatsapp_from", kFakeWhatsAppFrom}, {"whatsapp_content_sid", kFakeContentSid}},
                          overrides))),
            host_);
        return *provider_;
    }
    sdk::SendResult send(Channel channel, const std::string& locale = "") {
        sdk::SmsMessage message{"+12025550123", "Your Testino code is 482913.", kCode, "req-9", channel,
                                locale};
        return provider_->send(message, Clock::now() + 5s);
    }
    void TearDown() override {
        for (const auto& record : host_.records()) {
            for (const auto& [name, value] : record.fields) {
                EXPECT_EQ(value.find(kCode), std::string::npos) << record.event << "." << name;
                EXPECT_EQ(value.find(kFakeAuthToken), std::string::npos) << record.event << "." << name;
            }
        }
    }

    FakeTwilio fake_;
    RecordingHost host_;
    std::unique_ptr<TwilioProvider> provider_;
};

TEST_F(TwilioChannelsTest, WhatsAppSendsTheApprovedTemplateWithTheCodeAsVariableOne) {
    provider();
    EXPECT_TRUE(provider_->supports(Channel::whatsapp));
    const auto result = send(Channel::whatsapp);
    EXPECT_EQ(result.status, SendStatus::sent) << result.detail;
    EXPECT_TRUE(fake_.rejections().empty()) << fake_.rejections().front();
    const auto messages = fake_.messages();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].resource, "Messages");
    const std::map<std::string, std::string> expected{{"To", "whatsapp:+12025550123"},
                                                      {"From", std::string("whatsapp:") + kFakeWhatsAppFrom},
                                                      {"ContentSid", kFakeContentSid},
                                                      {"ContentVariables", "{\"1\":\"482913\"}"}};
    EXPECT_EQ(messages[0].fields, expected);
    const auto sent = host_.records_of("sms.twilio.sent");
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].field("channel"), "whatsapp");
}

TEST_F(TwilioChannelsTest, VoicePlacesACallWithTheTwimlFromTheVoiceSender) {
    provider({{"voice_from", kFakeVoiceFrom}});
    const auto result = send(Channel::voice, "hi-IN");
    EXPECT_EQ(result.status, SendStatus::sent) << result.detail;
    EXPECT_EQ(result.message_id, "CA00000000000000000000000000000001");
    EXPECT_TRUE(fake_.rejections().empty()) << fake_.rejections().front();
    const auto calls = fake_.messages();
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].resource, "Calls");
    EXPECT_EQ(calls[0].field("To"), "+12025550123");
    EXPECT_EQ(calls[0].field("From"), kFakeVoiceFrom);
    EXPECT_EQ(calls[0].field("Twiml"), voice_twiml(kCode, "hi-IN"));
    EXPECT_NE(calls[0].field("Twiml").find("language=\"hi-IN\""), std::string::npos);
    EXPECT_EQ(calls[0].fields.size(), 3u) << "To, From, Twiml: nothing else";
}

TEST_F(TwilioChannelsTest, SmsIsUnchangedBesideTheOtherChannels) {
    provider();
    EXPECT_EQ(send(Channel::sms).status, SendStatus::sent);
    const auto messages = fake_.messages();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].field("From"), kFakeFrom);
    EXPECT_EQ(messages[0].field("Body"), "Your Testino code is 482913.");
}

TEST_F(TwilioChannelsTest, AChannelItsConfigLeftOffIsRefusedWithoutARequest) {
    provider_ = std::make_unique<TwilioProvider>(
        settings_from(
            with(valid_values(fake_.base_url()), {{"from", ""}, {"messaging_service_sid", kFakeServiceSid}})),
        host_);
    EXPECT_EQ(provider_->channels(), std::vector<Channel>{Channel::sms});
    for (const Channel channel : {Channel::whatsapp, Channel::voice}) {
        const auto result = send(channel);
        EXPECT_EQ(result.status, SendStatus::misconfigured);
        EXPECT_NE(result.detail.find("channel is not configured"), std::string::npos) << result.detail;
    }
    EXPECT_EQ(fake_.request_count(), 0u);
}

TEST_F(TwilioChannelsTest, CallErrorsMapLikeMessageErrors) {
    provider();
    fake_.answer_next(twilio_error(21214));
    EXPECT_EQ(send(Channel::voice).status, SendStatus::invalid_recipient);
    fake_.answer_next(twilio_error(21215));
    EXPECT_EQ(send(Channel::voice).status, SendStatus::misconfigured) << "geo permissions: the operator's";
    fake_.answer_next(twilio_error(21210));
    EXPECT_EQ(send(Channel::voice).status, SendStatus::misconfigured) << "an unverified caller ID";
    fake_.answer_next(twilio_error(20500));
    EXPECT_EQ(send(Channel::voice).status, SendStatus::uncertain) << "Twilio may have placed the call";
    fake_.answer_next(twilio_error(20429), 3);
    EXPECT_EQ(send(Channel::voice).status, SendStatus::unavailable) << "429 is retried, then unavailable";
    fake_.answer_next(twilio_error(63003));
    EXPECT_EQ(send(Channel::whatsapp).status, SendStatus::invalid_recipient);
    fake_.answer_next(twilio_error(63007));
    EXPECT_EQ(send(Channel::whatsapp).status, SendStatus::misconfigured);
    fake_.answer_next(twilio_error(21656));
    EXPECT_EQ(send(Channel::whatsapp).status, SendStatus::misconfigured);
}

TEST(FakeTwilioCalls, RefusesCallsTwilioWouldRefuse) {
    FakeTwilio fake;
    http::Client client({});
    const std::string url =
        fake.base_url() + "/2010-04-01/Accounts/" + std::string(test::kFakeAccountSid) + "/Calls.json";
    auto post = [&](std::vector<std::pair<std::string, std::string>> fields, bool auth = true) {
        http::Request request;
        request.url = url;
        request.body = http::form_encode(fields);
        if (auth) request.basic_auth = std::make_pair(test::kFakeAccountSid, kFakeAuthToken);
        return client.post(request, Clock::now() + 5s);
    };
    const std::string twiml = "<Response><Say>1</Say></Response>";
    EXPECT_EQ(post({{"To", "+12025550123"}, {"From", kFakeFrom}, {"Twiml", twiml}}, false).status, 401);
    EXPECT_EQ(post({{"From", kFakeFrom}, {"Twiml", twiml}}).status, 400);
    EXPECT_EQ(post({{"To", "2025550123"}, {"From", kFakeFrom}, {"Twiml", twiml}}).status, 400);
    EXPECT_EQ(post({{"To", "+12025550123"}, {"Twiml", twiml}}).status, 400);
    EXPECT_EQ(post({{"To", "+12025550123"}, {"From", kFakeFrom}}).status, 400);
    EXPECT_EQ(
        post({{"To", "+12025550123"}, {"From", kFakeFrom}, {"Twiml", "<Response>a & b</Response>"}}).status,
        400);
    EXPECT_EQ(post({{"To", "+12025550123"}, {"From", kFakeFrom}, {"Twiml", twiml}}).status, 201);
    const auto rejections = fake.rejections();
    ASSERT_EQ(rejections.size(), 6u);
    EXPECT_EQ(rejections[0], "authentication failed");
    EXPECT_NE(rejections[1].find("No 'To' number"), std::string::npos);
    EXPECT_NE(rejections[2].find("Invalid 'To'"), std::string::npos);
    EXPECT_NE(rejections[3].find("Caller phone number is required"), std::string::npos);
    EXPECT_NE(rejections[4].find("a Url, Twiml or ApplicationSid"), std::string::npos);
    EXPECT_NE(rejections[5].find("Document parse failure"), std::string::npos);
}

TEST(FakeTwilioWhatsApp, RefusesMixedChannelsFreeformTextAndBadTemplates) {
    FakeTwilio fake;
    http::Client client({});
    auto post = [&](std::vector<std::pair<std::string, std::string>> fields) {
        http::Request request;
        request.url =
            fake.base_url() + "/2010-04-01/Accounts/" + std::string(test::kFakeAccountSid) + "/Messages.json";
        request.body = http::form_encode(fields);
        request.basic_auth = std::make_pair(test::kFakeAccountSid, kFakeAuthToken);
        return client.post(request, Clock::now() + 5s).status;
    };
    const std::string wa_from = std::string("whatsapp:") + kFakeWhatsAppFrom;
    EXPECT_EQ(post({{"To", "whatsapp:+12025550123"}, {"From", kFakeFrom}, {"Body", "x"}}), 400);
    EXPECT_EQ(post({{"To", "whatsapp:+12025550123"}, {"From", wa_from}, {"Body", "x"}}), 400);
    EXPECT_EQ(post({{"To", "whatsapp:+12025550123"}, {"From", wa_from}, {"ContentSid", "HX1"}}), 400);
    EXPECT_EQ(post({{"To", "whatsapp:+12025550123"},
                    {"From", wa_from},
                    {"ContentSid", kFakeContentSid},
                    {"ContentVariables", "{1:2}"}}),
              400);
    EXPECT_EQ(post({{"To", "whatsapp:+12025550123"},
                    {"From", wa_from},
                    {"ContentSid", kFakeContentSid},
                    {"ContentVariables", "{\"1\":\"123456\"}"}}),
              201);
    const auto rejections = fake.rejections();
    ASSERT_EQ(rejections.size(), 4u);
    EXPECT_NE(rejections[0].find("same channel"), std::string::npos);
    EXPECT_NE(rejections[1].find("outside the allowed window"), std::string::npos);
    EXPECT_NE(rejections[2].find("ContentSid is Invalid"), std::string::npos);
    EXPECT_NE(rejections[3].find("ContentVariables"), std::string::npos);
}

}  // namespace
}  // namespace testino::plugins::twilio
