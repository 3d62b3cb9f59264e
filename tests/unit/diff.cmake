# The differential test against the host's Linux kernel (test_diff_host.c):
# the same random system calls and accesses on host processes and on kmm
# tasks, several seeds on a deterministic machine. Linux only.
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  kmm_unit_test(diff_host ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_diff_host.c)
endif()
