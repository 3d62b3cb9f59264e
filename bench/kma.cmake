# Kernel memory allocator benchmarks (kma.*): bench_kma.c.
kmm_benchmark(kma bench_kma.c)
# kma.kernelmix replays the trace recorded by scripts/kma-trace.sh.
target_compile_definitions(bench_kma PRIVATE
  KMA_TRACE_FILE="${CMAKE_SOURCE_DIR}/bench/kma-kernelmix.trace")
