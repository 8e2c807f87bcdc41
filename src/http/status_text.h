// Reason phrases, as Go's http.StatusText spells them.
#pragma once

#include <string_view>

namespace etcdpp::http {

std::string_view StatusText(int status);

}  // namespace etcdpp::http
