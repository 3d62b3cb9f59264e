/*
 * The emulated machine's console and panic.
 *
 * The console is the host's stdout, or a caller's buffer while a test
 * captures it. CPUs of an SMP machine print at the same time, so one mutex
 * serializes writers: each arch_console_write (one printk line, or one view)
 * lands whole. The capture buffer is always NUL-terminated and truncates
 * rather than overflows, so a test can strstr it directly.
 *
 * A panic prints Linux's "Kernel panic - not syncing:" line on stderr, then
 * either hands the message to the host program's handler (which longjmps
 * away: tests that provoke panics on purpose, the kmm tool turning them into
 * Lua errors) or aborts, so a bug stops the run where it happened. Panic
 * takes no lock: it may be called with the console lock held.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/arch.h>

#include "emu_internal.h"

/* Protects capture_buf, capture_size and capture_len; taken for every write. */
static pthread_mutex_t console_lock = PTHREAD_MUTEX_INITIALIZER;
static char *capture_buf;      /* NULL: the console is stdout */
static size_t capture_size;
static size_t capture_len;     /* bytes stored, < capture_size */

static _Atomic(emu_panic_handler) panic_handler;

void arch_console_write(const char *text, size_t len)
{
	pthread_mutex_lock(&console_lock);
	if (capture_buf) {
		size_t room = capture_size - 1 - capture_len;
		size_t n = len < room ? len : room;

		memcpy(capture_buf + capture_len, text, n);
		capture_len += n;
		capture_buf[capture_len] = '\0';
	} else {
		fwrite(text, 1, len, stdout);
	}
	pthread_mutex_unlock(&console_lock);
}

/*
 * From now on console output goes into buf (size bytes, including the NUL);
 * buf == NULL (or size 0) goes back to stdout.
 */
void emu_console_capture(char *buf, size_t size)
{
	pthread_mutex_lock(&console_lock);
	capture_buf = size ? buf : NULL;
	capture_size = size;
	capture_len = 0;
	if (capture_buf)
		capture_buf[0] = '\0';
	pthread_mutex_unlock(&console_lock);
}

/* The length of the text captured since emu_console_capture (after truncation). */
size_t emu_console_captured(void)
{
	size_t len;

	pthread_mutex_lock(&console_lock);
	len = capture_len;
	pthread_mutex_unlock(&console_lock);
	return len;
}

void emu_set_panic_handler(emu_panic_handler handler)
{
	atomic_store(&panic_handler, handler);
}

void arch_panic(const char *message)
{
	emu_panic_handler handler = atomic_load(&panic_handler);

	/* What the machine printed before the panic comes first on a terminal. */
	fflush(stdout);
	fprintf(stderr, "Kernel panic - not syncing: %s\n", message);
	fflush(stderr);
	if (handler) {
		handler(message);
		fprintf(stderr, "kmm: the panic handler returned; aborting\n");
	}
	abort();
}

void emu_panicf(const char *fmt, ...)
{
	char message[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	arch_panic(message);
}
