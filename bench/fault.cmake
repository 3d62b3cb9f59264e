# Page-fault, TLB and fork benchmarks (fault.*, tlb.*, fork.*): bench_fault.c,
# each against the host kernel (or a host memory access) in the same run.
kmm_benchmark(fault bench_fault.c)
