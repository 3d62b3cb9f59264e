# Tests of file mappings and exec (mm/mmap.c, mm/memory.c, mm/vma.c,
# mm/exec.c over the page cache): test_file_mmap maps files of a temporary
# root shared and private; test_exec loads real programs of the host (the
# root is the host's /) and a corpus of malformed ELF files it makes.
set(EXEC_UNIT ${CMAKE_CURRENT_SOURCE_DIR}/unit)
kmm_unit_test(file_mmap ${EXEC_UNIT}/test_file_mmap.c)
kmm_unit_test(exec ${EXEC_UNIT}/test_exec.c)
kmm_unit_test(file_mmap_smp ${EXEC_UNIT}/test_file_mmap_smp.c CONCURRENT)
