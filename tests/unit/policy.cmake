# The page-replacement simulators of kmm replay --compare and the reclaim
# benchmark (tools/kmm/policy.c, host code): compiled here from the tool's
# sources, with the trace reader they read strings through, under
# ASan+UBSan. No machine is booted, so the core is not linked.
find_package(ZLIB REQUIRED)
add_executable(test_policy_asan ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_policy.c
  ${CMAKE_SOURCE_DIR}/tools/kmm/policy.c ${CMAKE_SOURCE_DIR}/tools/kmm/trace.c)
target_include_directories(test_policy_asan PRIVATE ${CMAKE_SOURCE_DIR}/tools/kmm)
target_compile_options(test_policy_asan PRIVATE ${KMM_FLAGS__asan})
target_link_options(test_policy_asan PRIVATE ${KMM_FLAGS__asan})
target_link_libraries(test_policy_asan PRIVATE PkgConfig::CMOCKA ZLIB::ZLIB)
add_test(NAME policy_asan COMMAND test_policy_asan)
set_tests_properties(policy_asan PROPERTIES LABELS "unit;asan"
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1")
