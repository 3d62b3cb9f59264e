/*
 * Formatted text for the core: a freestanding vsnprintf (lib/vsprintf.c), a
 * bounded text buffer the views write into (seq_buf), kernel log messages
 * (printk, to the arch console) and panic.
 *
 * Supported conversions: %d %i %u %x %X %o %c %s %p %% with the flags
 * - 0 + space, a width and precision (also *), and the length modifiers
 * hh h l ll z t j.
 */
#ifndef KMM_PRINTK_H
#define KMM_PRINTK_H

#include <kmm/types.h>
#include <stdarg.h>

int kmm_vsnprintf(char *buf, size_t size, const char *fmt, va_list args);
int kmm_snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);

/* A text buffer that never overflows: output past the end is counted, not stored. */
struct seq_buf {
	char *buffer;
	size_t size;
	size_t len; /* may exceed size: then the text was truncated */
};

static inline void seq_buf_init(struct seq_buf *s, char *buffer, size_t size)
{
	s->buffer = buffer;
	s->size = size;
	s->len = 0;
	if (size)
		buffer[0] = '\0';
}

static inline bool seq_buf_overflowed(const struct seq_buf *s)
{
	return s->len >= s->size;
}

void seq_printf(struct seq_buf *s, const char *fmt, ...) __printf(2, 3);
void seq_puts(struct seq_buf *s, const char *text);

/* Log levels as Linux's, used as a prefix of the message. */
#define KERN_ERR "<3>"
#define KERN_WARNING "<4>"
#define KERN_NOTICE "<5>"
#define KERN_INFO "<6>"
#define KERN_DEBUG "<7>"

void printk(const char *fmt, ...) __printf(1, 2);
/* Only messages at or above this level reach the console (default: info). */
extern int console_loglevel;

__noreturn void panic(const char *fmt, ...) __printf(1, 2);

/* Invariant assertions: checked always; cheap compared with what they guard. */
#define BUG_ON(cond)                                                        \
	do {                                                                \
		if (unlikely(cond))                                         \
			panic("BUG at %s:%d: %s", __FILE__, __LINE__, #cond); \
	} while (0)

#endif
