# Tests of the page-frame allocator and memblock (mm/page_alloc.c,
# mm/memblock.c). pa_test.h holds their shared helpers; pa_random.c the
# random workload that the single-CPU and the SMP tests both run.
set(PA_UNIT ${CMAKE_CURRENT_SOURCE_DIR}/unit)
kmm_unit_test(page_alloc ${PA_UNIT}/test_page_alloc.c ${PA_UNIT}/pa_random.c)
kmm_unit_test(page_alloc_smp ${PA_UNIT}/test_page_alloc_smp.c ${PA_UNIT}/pa_random.c CONCURRENT)
kmm_unit_test(memblock ${PA_UNIT}/test_memblock.c)
kmm_unit_test(fragmentation ${PA_UNIT}/test_fragmentation.c)
