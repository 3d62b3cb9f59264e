# Tests of the area level of address spaces (mm/vma.c, mm/mmap.c, mm/fork.c,
# mm/exec.c): the area set against a reference, the system calls' edge
# cases and errno values, fork/exit/threads; test_fork_smp runs tasks on two
# CPUs at once (also under ThreadSanitizer).
set(AREA_UNIT ${CMAKE_CURRENT_SOURCE_DIR}/unit)
kmm_unit_test(vma ${AREA_UNIT}/test_vma.c)
kmm_unit_test(mmap ${AREA_UNIT}/test_mmap.c)
kmm_unit_test(fork ${AREA_UNIT}/test_fork.c)
kmm_unit_test(fork_smp ${AREA_UNIT}/test_fork_smp.c CONCURRENT)
