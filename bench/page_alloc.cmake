# The page allocator's benchmarks (page.*): bench_page_alloc.c.
kmm_benchmark(page_alloc bench_page_alloc.c)
