# Tests of libkmm-malloc (tools/malloc, arch/native) and of memory hot-add,
# the core hook it grows by:
#   test_malloc          the interface, edges, hardening, fork, growth, trim
#                        (ASan+UBSan)
#   test_malloc_threads  cross-thread frees, more threads than slots,
#                        magazine resizes under owners (ASan and TSan)
#   test_malloc_hotplug  add_memory on the emulated machine (ASan and TSan)
# The malloc tests link kmm_malloc_test_*: the allocator with its interface
# renamed kmmtest_* (the sanitizers own the process's malloc).
foreach(test malloc malloc_threads)
  set(variants _asan)
  if(test STREQUAL malloc_threads)
    list(APPEND variants _tsan)
  endif()
  foreach(variant ${variants})
    set(target test_${test}${variant})
    add_executable(${target} ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_${test}.c)
    target_compile_options(${target} PRIVATE ${KMM_FLAGS_${variant}})
    target_link_libraries(${target} PRIVATE kmm_malloc_test${variant} PkgConfig::CMOCKA)
    add_test(NAME ${test}${variant} COMMAND ${target})
    string(REPLACE "_" "" label ${variant})
    set_tests_properties(${test}${variant} PROPERTIES LABELS "unit;${label};malloc"
      ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1;UBSAN_OPTIONS=print_stacktrace=1;TSAN_OPTIONS=halt_on_error=1")
  endforeach()
endforeach()
kmm_unit_test(malloc_hotplug ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_malloc_hotplug.c CONCURRENT)

# Real programs under LD_PRELOAD=libkmm-malloc.so, output compared with a run
# on the C library's malloc (tests/malloc/programs.sh); skipped, with the
# reason, when the program is not installed.
foreach(program python sort gcc git cxx)
  add_test(NAME malloc_program_${program}
    COMMAND sh ${CMAKE_SOURCE_DIR}/tests/malloc/programs.sh $<TARGET_FILE:kmm-malloc> ${program})
  set_tests_properties(malloc_program_${program} PROPERTIES LABELS "malloc;program"
    SKIP_REGULAR_EXPRESSION "SKIPPED")
endforeach()
