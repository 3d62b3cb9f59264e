# Tests of the emulated machine (arch/emu); the ASan+UBSan and TSan builds.
kmm_unit_test(emu ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_emu.c CONCURRENT)
