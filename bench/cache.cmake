# The page-cache benchmarks (cache.*): bench_cache.c.
kmm_benchmark(cache bench_cache.c)
