# Conformance tests of the kernel memory allocators (mm/kma/): every design
# through the same bodies (test_kma.c), and 2-CPU churn on an SMP machine
# under ThreadSanitizer (test_kma_smp.c).
set(KMA_UNIT ${CMAKE_CURRENT_SOURCE_DIR}/unit)
kmm_unit_test(kma ${KMA_UNIT}/test_kma.c ${KMA_UNIT}/test_kma_common.c)
kmm_unit_test(kma_smp ${KMA_UNIT}/test_kma_smp.c ${KMA_UNIT}/test_kma_common.c CONCURRENT)
# The whole machine on each design (--kma): kmalloc, caches, leaks, frames,
# the boot error and the allocation trace; cross-CPU frees under TSan.
kmm_unit_test(kma_machine ${KMA_UNIT}/test_kma_machine.c ${KMA_UNIT}/test_kma_common.c CONCURRENT)
