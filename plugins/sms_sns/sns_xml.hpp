// Reading SNS's XML replies without an XML library: a small tag scanner that finds the text
// of an element by the local names of its last ancestors. It understands what the awsQuery
// protocol sends (elements, attributes, namespace prefixes, the XML declaration, comments,
// CDATA, the predefined and numeric character references) and nothing more: no DTDs.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace testino::plugins::sns {

// The trimmed, entity-decoded text of the first element whose innermost local names equal
// `path` (e.g. {"Error", "Code"} matches ErrorResponse/Error/Code and Response/Errors/Error/Code).
// nullopt when there is no such element or the text is not well formed enough to scan.
std::optional<std::string> xml_text(const std::string& xml, const std::vector<std::string>& path);

// PublishResponse/PublishResult/MessageId.
std::optional<std::string> publish_message_id(const std::string& xml);

struct AwsError {
    std::string code;        // "InvalidParameter"; never empty
    std::string message;     // AWS's human text (may be "")
    std::string type;        // "Sender" | "Receiver" | ""
    std::string request_id;  // AWS's request id, for support cases (may be "")
};

// ErrorResponse/Error/{Code,Message,Type} and ErrorResponse/RequestId; nullopt without a Code.
std::optional<AwsError> parse_error(const std::string& xml);

}  // namespace testino::plugins::sns
