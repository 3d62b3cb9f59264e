# File-mapping fault benchmark (fault.file.*): bench_file_fault.c, a read
# fault on a cached file page against the host kernel's in the same run.
kmm_benchmark(file_fault bench_file_fault.c)
