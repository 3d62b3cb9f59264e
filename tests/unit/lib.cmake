# Tests of the freestanding helpers in lib/.
kmm_unit_test(rbtree ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_rbtree.c)
kmm_unit_test(vsprintf ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_vsprintf.c)
