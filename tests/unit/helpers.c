/*
 * Helpers for the unit tests on the emulated machine; see helpers.h.
 *
 * Panic catching: the handler copies the message and longjmps to the
 * th_panic_env the caller armed. The jump buffer is per process, not per
 * thread: a panic on another host thread cannot be caught (it would jump
 * into a stack that is not its own), so the handler aborts there, as an
 * unexpected panic does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/emu.h>

#include "helpers.h"

jmp_buf th_panic_env;
static char panic_message[1024];
static pthread_t panic_thread;

void th_config(struct emu_config *cfg, uint64_t ram, unsigned int cpus, enum emu_mode mode)
{
	emu_config_default(cfg);
	cfg->ram_bytes = ram;
	cfg->cpus = cpus;
	cfg->mode = mode;
	cfg->mm.quiet = true;
}

void th_boot_cfg(const struct emu_config *cfg)
{
	char err[256] = "";
	int ret;

	th_shutdown();
	ret = emu_boot(cfg, err, sizeof(err));
	if (ret)
		fail_msg("emu_boot(ram=%llu, cpus=%u, mode=%s): %d: %s",
			 (unsigned long long)cfg->ram_bytes, cfg->cpus,
			 cfg->mode == EMU_SMP ? "smp" : "det", ret, err);
	assert_true(emu_booted());
}

void th_boot(uint64_t ram, unsigned int cpus, enum emu_mode mode)
{
	struct emu_config cfg;

	th_config(&cfg, ram, cpus, mode);
	th_boot_cfg(&cfg);
}

void th_shutdown(void)
{
	if (emu_booted())
		emu_shutdown();
}

int th_teardown(void **state)
{
	(void)state;
	emu_set_panic_handler(NULL);
	emu_console_capture(NULL, 0);
	th_shutdown();
	return 0;
}

static void catch_handler(const char *message)
{
	if (!pthread_equal(pthread_self(), panic_thread)) {
		fprintf(stderr, "panic on a thread the test cannot catch it on: %s\n", message);
		abort();
	}
	snprintf(panic_message, sizeof(panic_message), "%s", message);
	longjmp(th_panic_env, 1);
}

void th_panic_arm(void)
{
	panic_message[0] = '\0';
	panic_thread = pthread_self();
	emu_set_panic_handler(catch_handler);
}

void th_panic_disarm(void)
{
	emu_set_panic_handler(NULL);
}

void th_panic_check(const char *what, bool panicked, const char *needle)
{
	th_panic_disarm();
	if (!panicked)
		fail_msg("%s did not panic", what);
	if (needle && !strstr(panic_message, needle))
		fail_msg("%s panicked with \"%s\", which lacks \"%s\"", what, panic_message,
			 needle);
}

bool th_catch_panic(void (*fn)(void *arg), void *arg)
{
	th_panic_arm();
	if (setjmp(th_panic_env)) {
		th_panic_disarm();
		return true;
	}
	fn(arg);
	th_panic_disarm();
	return false;
}

const char *th_panic_message(void)
{
	return panic_message;
}

static char capture[1 << 16];

void th_capture_begin(void)
{
	emu_console_capture(capture, sizeof(capture));
}

const char *th_capture_end(void)
{
	emu_console_capture(NULL, 0);
	return capture;
}
