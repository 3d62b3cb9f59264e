# Tests of the slab allocator and kmalloc (mm/slab.c, mm/kmalloc.c,
# mm/shrinker.c): test_slab on a deterministic machine, test_slab_smp on
# host threads (also under ThreadSanitizer).
set(SLAB_UNIT ${CMAKE_CURRENT_SOURCE_DIR}/unit)
kmm_unit_test(slab ${SLAB_UNIT}/test_slab.c)
kmm_unit_test(slab_smp ${SLAB_UNIT}/test_slab_smp.c CONCURRENT)
