# Helpers that give every test, fuzz target and benchmark the same shape.

include(CheckCXXSourceCompiles)

# vnfpool_add_unit_test(<lib> SOURCES a_test.cc ... LIBS extra...)
# One GoogleTest binary per library, vnfpool_<lib>_test, with its tests labelled `unit`.
function(vnfpool_add_unit_test lib)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  set(target vnfpool_${lib}_test)
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE vnfpool::${lib} ${ARG_LIBS} GTest::gtest_main GTest::gmock
                                          vnfpool::warnings)
  target_compile_definitions(${target} PRIVATE VNFPOOL_TEST_DATA="${PROJECT_SOURCE_DIR}/tests/data")
  gtest_discover_tests(${target} PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
endfunction()

# libFuzzer needs clang; under GCC each fuzz target links tests/fuzz/replay_main.cc and replays its corpus.
set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer")
check_cxx_source_compiles([[
  #include <cstddef>
  #include <cstdint>
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }
]] VNFPOOL_HAVE_LIBFUZZER)
unset(CMAKE_REQUIRED_FLAGS)

# vnfpool_add_fuzzer(<name> LIBS libs...) builds tests/fuzz/<name>.cc; ctest runs it on tests/fuzz/corpus/<name>.
function(vnfpool_add_fuzzer name)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  set(corpus ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
  if(VNFPOOL_HAVE_LIBFUZZER)
    add_executable(${name} ${name}.cc)
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    # Scratch directory first: new inputs land there, never in the source tree.
    set(scratch ${CMAKE_CURRENT_BINARY_DIR}/${name}_scratch)
    file(MAKE_DIRECTORY ${scratch})
    add_test(NAME fuzz.${name} COMMAND ${name} -max_total_time=10 ${scratch} ${corpus})
  else()
    add_executable(${name} ${name}.cc replay_main.cc)
    add_test(NAME fuzz.${name} COMMAND ${name} ${corpus})
  endif()
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} vnfpool::warnings)
  set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 120)
endfunction()

# vnfpool_add_benchmark(<name> SOURCES ... LIBS ...): a Google Benchmark binary; ctest only smoke-runs it.
function(vnfpool_add_benchmark name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} benchmark::benchmark_main vnfpool::warnings)
  add_test(NAME bench.${name} COMMAND ${name} --benchmark_min_time=0.01)
  set_tests_properties(bench.${name} PROPERTIES LABELS bench TIMEOUT 300)
endfunction()
