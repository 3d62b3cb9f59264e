/*
 * What the fuzz targets share (fuzz_common.c). Each target defines
 * LLVMFuzzerTestOneInput as libFuzzer expects; built with libFuzzer
 * (-DKMM_FUZZ=ON) it is a fuzzer, built with runner.c it is a regression
 * test that feeds it every file of a corpus directory (docs/testing.md).
 *
 * A target treats bad input as normal: only a crash, a sanitizer report, a
 * kernel panic or a broken check of the target (fuzz_fail) is a finding.
 */
#ifndef KMM_FUZZ_H
#define KMM_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Reports a finding and aborts, so libFuzzer saves the input as a crash. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * Once per process: kernel panics abort (a panic is a finding, never a
 * clean refusal), the console goes into a buffer (the machine's printk
 * lines would drown libFuzzer's), stdout to /dev/null unless KMM_FUZZ_VERBOSE
 * is set.
 */
void fuzz_setup(void);
/* Set by fuzz_setup from KMM_FUZZ_VERBOSE: targets may say more. */
extern bool verbose;
/* At the start of each input: fuzz_setup, and the console buffer emptied. */
void fuzz_input_begin(void);

/* A new empty directory under $TMPDIR or /tmp, removed at exit. */
const char *fuzz_tmpdir(const char *name);
/* Writes path with the bytes and the mode; aborts on a host error. */
void fuzz_write_file(const char *path, const void *data, size_t size, unsigned int mode);
/* Removes everything inside dir (not dir itself). */
void fuzz_empty_dir(const char *dir);

/* Frames on the free lists once per-CPU lists and empty slabs are drained. */
unsigned long fuzz_settled_free(void);

#endif
