/*
 * Helpers for every unit test that runs on the emulated machine: boot a quiet
 * machine of a given shape (failing the test if it does not boot), shut it
 * down, catch a panic the test provokes on purpose, capture the console.
 *
 * Include after <cmocka.h> and its prerequisites (stdarg, stddef, setjmp,
 * stdint). Every unit test executable links helpers.c.
 */
#ifndef KMM_TESTS_HELPERS_H
#define KMM_TESTS_HELPERS_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>

#include <kmm/emu.h>

/* A default configuration with ram, cpus and mode set, and a quiet boot. */
void th_config(struct emu_config *cfg, uint64_t ram, unsigned int cpus, enum emu_mode mode);
/* Boots (shutting down any machine still up); fails the test on error. */
void th_boot_cfg(const struct emu_config *cfg);
void th_boot(uint64_t ram, unsigned int cpus, enum emu_mode mode);
/* Shuts the machine down if one is up; also a cmocka setup/teardown. */
void th_shutdown(void);
int th_teardown(void **state);

/*
 * Panics: th_catch_panic runs fn(arg) and returns true if it panicked
 * (the message is then th_panic_message()). TH_EXPECT_PANIC(stmt, needle)
 * fails the test unless stmt panics with a message containing needle.
 * Only the calling host thread's panics can be caught.
 */
bool th_catch_panic(void (*fn)(void *arg), void *arg);
const char *th_panic_message(void);

extern jmp_buf th_panic_env;
void th_panic_arm(void);
void th_panic_disarm(void);
void th_panic_check(const char *what, bool panicked, const char *needle);

#define TH_EXPECT_PANIC(stmt, needle)                               \
	do {                                                        \
		th_panic_arm();                                     \
		if (setjmp(th_panic_env) == 0) {                    \
			stmt;                                       \
			th_panic_check(#stmt, false, needle);       \
		} else {                                            \
			th_panic_check(#stmt, true, needle);        \
		}                                                   \
	} while (0)

/*
 * The console: th_capture_begin sends it into a buffer of the helpers',
 * th_capture_end returns it to stdout and returns the text (valid until the
 * next th_capture_begin).
 */
void th_capture_begin(void);
const char *th_capture_end(void);

#endif
