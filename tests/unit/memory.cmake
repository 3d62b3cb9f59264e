# Tests of page tables, the fault handler and the emulated MMU (mm/memory.c,
# arch/emu/mmu.c): test_memory on a deterministic machine; test_memory_smp
# runs threads of one mm on two CPUs while one of them unmaps and
# write-protects (TLB shootdown), also under ThreadSanitizer.
set(MEMORY_UNIT ${CMAKE_CURRENT_SOURCE_DIR}/unit)
kmm_unit_test(memory ${MEMORY_UNIT}/test_memory.c)
kmm_unit_test(memory_smp ${MEMORY_UNIT}/test_memory_smp.c CONCURRENT)
