/*
 * Kernel panics in the kmm program. The emulated machine prints the panic
 * message on stderr ("Kernel panic - not syncing: ...") and calls our
 * handler instead of aborting. Outside catch_panic the handler exits with
 * EXIT_PANIC, so a panic during a command or a script never hangs and never
 * leaves a core dump. Inside catch_panic (the Lua bindings wrap every
 * call into the core with it) it jumps back to the caller, which raises a
 * Lua error: a scenario can then see the panic with pcall, and an uncaught
 * one still ends kmm with EXIT_PANIC.
 *
 * Only the host thread that called catch_panic can jump back to it; a panic
 * on another thread (an SMP CPU) takes the exit path.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmm_tool.h"

bool panic_happened;

static jmp_buf *catch_env;        /* set while catch_panic runs fn */
static pthread_t catch_thread;
static char catch_msg[1024];

static void tool_panic_handler(const char *message)
{
	if (catch_env && pthread_equal(pthread_self(), catch_thread)) {
		jmp_buf *env = catch_env;

		snprintf(catch_msg, sizeof(catch_msg), "%s", message);
		catch_env = NULL;
		longjmp(*env, 1);
	}
	/* The emu printed the message; other threads may still be running. */
	fflush(stdout);
	_exit(EXIT_PANIC);
}

void panic_handler_install(void)
{
	emu_set_panic_handler(tool_panic_handler);
}

int catch_panic(void (*fn)(void *arg), void *arg, char *msg, size_t len)
{
	jmp_buf env;

	if (setjmp(env)) {
		panic_happened = true;
		snprintf(msg, len, "%s", catch_msg);
		return -1;
	}
	catch_thread = pthread_self();
	catch_env = &env;
	fn(arg);
	catch_env = NULL;
	return 0;
}
