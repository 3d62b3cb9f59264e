/*
 * The emulated machine's internal interface: how machine.c (boot and
 * shutdown) brings up and tears down the other parts of arch/emu — the CPUs
 * (cpu.c), the clock and work queue (time.c) and the console (console.c).
 * Nothing outside arch/emu includes this.
 */
#ifndef KMM_ARCH_EMU_INTERNAL_H
#define KMM_ARCH_EMU_INTERNAL_H

#include <kmm/emu.h>

/* cpu.c: the CPU count and mode, fixed from boot to shutdown. */
void emu_cpus_boot(unsigned int nr, enum emu_mode mode);
void emu_cpus_shutdown(void);

/* time.c: the clock starts at 0; shutdown drops every queued work item. */
void emu_time_boot(enum emu_mode mode);
void emu_time_shutdown(void);

/* console.c: a panic with a formatted message, for the arch's own checks. */
__noreturn void emu_panicf(const char *fmt, ...) __printf(1, 2);

#endif
