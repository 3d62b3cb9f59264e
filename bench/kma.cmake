# Kernel memory allocator benchmarks (kma.*): bench_kma.c.
kmm_benchmark(kma bench_kma.c)
