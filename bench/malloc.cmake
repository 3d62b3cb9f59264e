# libkmm-malloc against glibc, jemalloc, mimalloc and tcmalloc (malloc.*):
# bench_malloc.c. Each allocator is dlopen'ed in a child process per
# workload; the kmm library is the one this build makes.
kmm_benchmark(malloc bench_malloc.c)
target_link_libraries(bench_malloc PRIVATE ${CMAKE_DL_LIBS} m)
target_compile_definitions(bench_malloc PRIVATE KMM_MALLOC_SO="$<TARGET_FILE:kmm-malloc>")
add_dependencies(bench_malloc kmm-malloc)
