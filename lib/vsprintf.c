/*
 * Formatted output for the freestanding core: kmm_vsnprintf and its users,
 * seq_buf (bounded text for the views), printk (the kernel log, written to
 * the arch console) and panic.
 *
 * Like C's snprintf, kmm_vsnprintf returns the length the whole text would
 * have, writes at most size-1 characters and always terminates.
 */
#include <kmm/arch.h>
#include <kmm/printk.h>
#include <kmm/string.h>

struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_repeat(struct out *o, char c, int n)
{
	while (n-- > 0)
		put(o, c);
}

enum {
	F_LEFT = 1,
	F_ZERO = 2,
	F_PLUS = 4,
	F_SPACE = 8,
	F_ALT = 16,
};

static void put_number(struct out *o, unsigned long long v, bool negative,
		       unsigned int base, bool upper, int flags, int width,
		       int precision)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0, sign = 0, pad, zeros;
	/* As C's printf: the 0x of the # flag goes only on a nonzero value. */
	int prefix = (flags & F_ALT) && base == 16 && v ? 2 : 0;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	if (precision == 0 && n == 1 && tmp[0] == '0')
		n = 0;
	if (negative || (flags & (F_PLUS | F_SPACE)))
		sign = 1;
	zeros = precision > n ? precision - n : 0;
	pad = width - (n + zeros + sign + prefix);
	if ((flags & F_ZERO) && !(flags & F_LEFT) && precision < 0) {
		zeros += pad > 0 ? pad : 0;
		pad = 0;
	}
	if (!(flags & F_LEFT))
		put_repeat(o, ' ', pad);
	if (sign)
		put(o, negative ? '-' : (flags & F_PLUS) ? '+' : ' ');
	if (prefix) {
		put(o, '0');
		put(o, upper ? 'X' : 'x');
	}
	put_repeat(o, '0', zeros);
	while (n)
		put(o, tmp[--n]);
	if (flags & F_LEFT)
		put_repeat(o, ' ', pad);
}

int kmm_vsnprintf(char *buf, size_t size, const char *fmt, va_list args)
{
	struct out o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		int flags = 0, width = -1, precision = -1, length = 0;
		unsigned long long uv;
		long long sv;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		for (;;) {
			char c = *++fmt;
			if (c == '-')
				flags |= F_LEFT;
			else if (c == '0')
				flags |= F_ZERO;
			else if (c == '+')
				flags |= F_PLUS;
			else if (c == ' ')
				flags |= F_SPACE;
			else if (c == '#')
				flags |= F_ALT;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(args, int);
			if (width < 0) {
				flags |= F_LEFT;
				width = -width;
			}
			fmt++;
		} else {
			for (width = 0; *fmt >= '0' && *fmt <= '9'; fmt++)
				width = width * 10 + (*fmt - '0');
		}
		if (*fmt == '.') {
			fmt++;
			if (*fmt == '*') {
				precision = va_arg(args, int);
				fmt++;
			} else {
				for (precision = 0; *fmt >= '0' && *fmt <= '9'; fmt++)
					precision = precision * 10 + (*fmt - '0');
			}
		}
		/* length: 0 int, 1 long, 2 long long, -1 short, -2 char, 3 size_t */
		for (;; fmt++) {
			if (*fmt == 'l')
				length++;
			else if (*fmt == 'h')
				length--;
			else if (*fmt == 'z' || *fmt == 't' || *fmt == 'j')
				length = 3;
			else
				break;
		}
		switch (*fmt) {
		case 'd':
		case 'i':
			if (length >= 2)
				sv = length == 3 ? (long long)va_arg(args, ptrdiff_t)
						 : va_arg(args, long long);
			else if (length == 1)
				sv = va_arg(args, long);
			else
				sv = va_arg(args, int);
			if (length == -1)
				sv = (short)sv;
			else if (length == -2)
				sv = (signed char)sv;
			uv = sv < 0 ? 0ULL - (unsigned long long)sv : (unsigned long long)sv;
			put_number(&o, uv, sv < 0, 10, false, flags, width, precision);
			break;
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			if (length >= 2)
				uv = length == 3 ? (unsigned long long)va_arg(args, size_t)
						 : va_arg(args, unsigned long long);
			else if (length == 1)
				uv = va_arg(args, unsigned long);
			else
				uv = va_arg(args, unsigned int);
			if (length == -1)
				uv = (unsigned short)uv;
			else if (length == -2)
				uv = (unsigned char)uv;
			put_number(&o, uv, false,
				   *fmt == 'o' ? 8 : *fmt == 'u' ? 10 : 16,
				   *fmt == 'X', flags & ~(F_PLUS | F_SPACE), width,
				   precision);
			break;
		case 'p':
			put_number(&o, (uintptr_t)va_arg(args, void *), false, 16,
				   false, F_ALT, width, precision);
			break;
		case 'c': {
			char c = (char)va_arg(args, int);
			if (!(flags & F_LEFT))
				put_repeat(&o, ' ', width - 1);
			put(&o, c);
			if (flags & F_LEFT)
				put_repeat(&o, ' ', width - 1);
			break;
		}
		case 's': {
			const char *s = va_arg(args, const char *);
			int n = 0;
			if (!s)
				s = "(null)";
			while (s[n] && (precision < 0 || n < precision))
				n++;
			if (!(flags & F_LEFT))
				put_repeat(&o, ' ', width - n);
			for (int i = 0; i < n; i++)
				put(&o, s[i]);
			if (flags & F_LEFT)
				put_repeat(&o, ' ', width - n);
			break;
		}
		case '%':
			put(&o, '%');
			break;
		case '\0':
			fmt--; /* a lone % at the end: stop at the terminator */
			break;
		default: /* unknown conversion: print it as it is */
			put(&o, '%');
			put(&o, *fmt);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int kmm_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list args;
	int n;

	va_start(args, fmt);
	n = kmm_vsnprintf(buf, size, fmt, args);
	va_end(args);
	return n;
}

void seq_printf(struct seq_buf *s, const char *fmt, ...)
{
	size_t room = s->len < s->size ? s->size - s->len : 0;
	va_list args;
	int n;

	va_start(args, fmt);
	n = kmm_vsnprintf(room ? s->buffer + s->len : NULL, room, fmt, args);
	va_end(args);
	s->len += (size_t)n;
}

void seq_puts(struct seq_buf *s, const char *text)
{
	seq_printf(s, "%s", text);
}

int console_loglevel = 6; /* KERN_INFO and more urgent */

static int message_level(const char **text)
{
	const char *t = *text;

	if (t[0] == '<' && t[1] >= '0' && t[1] <= '7' && t[2] == '>') {
		*text = t + 3;
		return t[1] - '0';
	}
	return 6;
}

void printk(const char *fmt, ...)
{
	char line[512];
	va_list args;
	int level = message_level(&fmt);
	int n;

	if (level > console_loglevel)
		return;
	va_start(args, fmt);
	n = kmm_vsnprintf(line, sizeof(line), fmt, args);
	va_end(args);
	if (n >= (int)sizeof(line))
		n = sizeof(line) - 1;
	arch_console_write(line, (size_t)n);
}

void panic(const char *fmt, ...)
{
	char message[512];
	va_list args;

	va_start(args, fmt);
	kmm_vsnprintf(message, sizeof(message), fmt, args);
	va_end(args);
	arch_panic(message);
}
