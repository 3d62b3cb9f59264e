# The slab allocator's benchmarks (slab.*, kmalloc.*): bench_slab.c. The
# malloc peers are dlopen'ed at run time (scripts/deps.sh installs them).
kmm_benchmark(slab bench_slab.c)
target_link_libraries(bench_slab PRIVATE ${CMAKE_DL_LIBS})
