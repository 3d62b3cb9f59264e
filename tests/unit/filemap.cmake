# Tests of the page cache (mm/filemap.c, mm/page-writeback.c, mm/rmap.c)
# and hostfs (arch/emu/hostfs.c), each on deterministic machines whose root
# is a temporary host directory.
set(FILEMAP_UNIT ${CMAKE_CURRENT_SOURCE_DIR}/unit)
kmm_unit_test(filemap ${FILEMAP_UNIT}/test_filemap.c)
kmm_unit_test(writeback ${FILEMAP_UNIT}/test_writeback.c)
kmm_unit_test(filemap_smp ${FILEMAP_UNIT}/test_filemap_smp.c CONCURRENT)
