// The git revision compiled in; generated at build time into revision.cc (cmake/revision.cmake).
#pragma once

#include <string_view>

namespace vnfpool::observe::detail {
std::string_view revision();
}
