# Swap areas (mm/swapfile.c) on machines whose root is a temporary host directory.
kmm_unit_test(swapfile ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_swapfile.c)
