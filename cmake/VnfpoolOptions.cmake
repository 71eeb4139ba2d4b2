# Build-wide options: warnings as an INTERFACE target, sanitizers, ccache.

find_program(VNFPOOL_CCACHE ccache)
if(VNFPOOL_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${VNFPOOL_CCACHE})
endif()

add_library(vnfpool_warnings INTERFACE)
add_library(vnfpool::warnings ALIAS vnfpool_warnings)
target_compile_options(vnfpool_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wconversion -Wsign-conversion -Wimplicit-fallthrough)
option(VNFPOOL_WERROR "Treat warnings as errors" ON)
if(VNFPOOL_WERROR)
  target_compile_options(vnfpool_warnings INTERFACE -Werror)
endif()

# VNFPOOL_SANITIZE=ON builds everything with AddressSanitizer and UndefinedBehaviorSanitizer; the test
# command (scripts/test.sh) uses it. Any report aborts the process, so a test cannot pass over one.
option(VNFPOOL_SANITIZE "Build with ASan + UBSan" OFF)
if(VNFPOOL_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()
