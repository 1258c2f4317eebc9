#include "sns_publish.hpp"

#include <cctype>
#include <stdexcept>

namespace testino::plugins::sns {
namespace {

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

bool is_loopback_host(const std::string& host) {
    return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

void append_attribute(std::string& body, int index, const std::string& name, const std::string& data_type,
                      const std::string& value) {
    const std::string prefix = "&MessageAttributes.entry." + std::to_string(index);
    body += prefix + ".Name=" + form_encode(name);
    body += prefix + ".Value.DataType=" + form_encode(data_type);
    body += prefix + ".Value.StringValue=" + form_encode(value);
}

}  // namespace

Endpoint parse_endpoint(const std::string& text, const std::string& region) {
    std::string url = text;
    for (std::size_t at = url.find("{region}"); at != std::string::npos; at = url.find("{region}")) {
        url.replace(at, 8, region);
    }
    const std::size_t scheme_end = url.find("://");
    if (scheme_end == std::string::npos) {
        throw std::invalid_argument("must be an http(s) URL, e.g. https://sns.us-east-1.amazonaws.com");
    }
    const std::string scheme = lower(url.substr(0, scheme_end));
    if (scheme != "https" && scheme != "http") {
        throw std::invalid_argument("scheme must be https (or http for a loopback test endpoint)");
    }
    std::string authority = url.substr(scheme_end + 3);
    const std::size_t slash = authority.find('/');
    if (slash != std::string::npos) {
        if (authority.substr(slash) != "/") {
            throw std::invalid_argument("must not have a path: SNS is served at \"/\"");
        }
        authority.erase(slash);
    }
    if (authority.empty() || authority.find_first_of("@?# ") != std::string::npos) {
        throw std::invalid_argument("must be scheme://host[:port] without user info or query");
    }
    std::string host_only = authority;
    if (host_only.front() != '[')
        host_only = host_only.substr(0, host_only.find(':'));
    else
        host_only = host_only.substr(0, host_only.find(']') + 1);

    Endpoint endpoint;
    endpoint.host = lower(authority);
    endpoint.loopback = is_loopback_host(lower(host_only));
    if (scheme == "http" && !endpoint.loopback) {
        throw std::invalid_argument("plain http is only allowed for a loopback host; use https");
    }
    endpoint.url = scheme + "://" + endpoint.host + "/";
    return endpoint;
}

std::string form_encode(const std::string& text) {
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(c);
        } else if (c == ' ') {
            out.push_back('+');
        } else {
            out.push_back('%');
            out.push_back(digits[byte >> 4]);
            out.push_back(digits[byte & 0x0F]);
        }
    }
    return out;
}

std::string publish_body(const PublishParams& params) {
    std::string body = "Action=Publish&Version=2010-03-31&PhoneNumber=" + form_encode(params.phone_number) +
                       "&Message=" + form_encode(params.message);
    int index = 0;
    if (!params.sms_type.empty()) {
        append_attribute(body, ++index, "AWS.SNS.SMS.SMSType", "String", params.sms_type);
    }
    if (!params.sender_id.empty()) {
        append_attribute(body, ++index, "AWS.SNS.SMS.SenderID", "String", params.sender_id);
    }
    if (!params.max_price.empty()) {
        append_attribute(body, ++index, "AWS.SNS.SMS.MaxPrice", "Number", params.max_price);
    }
    return body;
}

SignedRequest sign_publish(const Endpoint& endpoint, const std::string& region,
                           const sigv4::Credentials& credentials, const PublishParams& params,
                           std::chrono::system_clock::time_point now) {
    sigv4::Request request;
    request.method = "POST";
    request.path = "/";
    request.headers = {{"Host", endpoint.host}, {"Content-Type", kFormContentType}};
    request.body = publish_body(params);

    sigv4::Options options;
    options.region = region;
    options.service = "sns";
    SignedRequest signed_request;
    signed_request.signature = sigv4::sign(request, credentials, options, now);
    signed_request.url = endpoint.url;
    signed_request.headers = std::move(request.headers);
    signed_request.body = std::move(request.body);
    return signed_request;
}

std::string render_http(const SignedRequest& request) {
    std::string out = "POST / HTTP/1.1\n";
    for (const auto& header : request.headers) out += header.name + ": " + header.value + "\n";
    out += "Content-Length: " + std::to_string(request.body.size()) + "\n\n" + request.body;
    return out;
}

}  // namespace testino::plugins::sns
