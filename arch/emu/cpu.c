/*
 * The emulated machine's CPUs.
 *
 * Deterministic mode has one host thread: "the current CPU" is a global the
 * caller switches with emu_set_cpu, so a test can interleave CPUs in an exact,
 * replayable order. SMP mode runs each CPU on its own host thread
 * (emu_run_on_cpus) and the current CPU is thread-local; the host's main
 * thread is CPU 0. arch_this_cpu is on the allocator's fast path, so the
 * two variables are the arch interface's arch_cpu_single and
 * arch_cpu_thread, read inline by the core (arch.h): a branch and a load.
 *
 * emu_run_on_cpus works in both modes, so one test body serves both: in
 * deterministic mode it runs the CPUs one after another on the caller's
 * thread.
 *
 * Waiting: an SMP CPU spinning on a lock pauses (the lock holder is another
 * thread and will let go). In deterministic mode nothing else can run, so a
 * contended lock can never be released: that is a deadlock, and we panic
 * with a message that says so instead of hanging.
 */
#include <pthread.h>
#include <sched.h>

#include <kmm/arch.h>
#include <kmm/errno.h>

#include "emu_internal.h"

/* Set at boot before any CPU thread starts; constant until shutdown. */
static enum emu_mode emu_cpu_mode = EMU_DET;
/* Deterministic mode runs every CPU on one host thread (lock.h). */
bool arch_smp_threads = true;
static unsigned int nr_cpus = 1;

unsigned int arch_cpu_single;                /* deterministic mode */
_Thread_local unsigned int arch_cpu_thread __attribute__((tls_model("local-exec")));
/* ^ SMP mode; 0 on the main thread */

void emu_cpus_boot(unsigned int nr, enum emu_mode mode)
{
	emu_cpu_mode = mode;
	arch_smp_threads = mode != EMU_DET;
	nr_cpus = nr;
	arch_cpu_single = 0;
	arch_cpu_thread = 0;
}

void emu_cpus_shutdown(void)
{
	emu_cpu_mode = EMU_DET;
	arch_smp_threads = true;
	nr_cpus = 1;
	arch_cpu_single = 0;
	arch_cpu_thread = 0;
}

unsigned int arch_nr_cpus(void)
{
	return nr_cpus;
}

/* In SMP mode this binds the calling host thread; in det mode, the machine. */
void emu_set_cpu(unsigned int cpu)
{
	if (cpu >= nr_cpus)
		emu_panicf("emu_set_cpu: CPU %u does not exist (%u CPUs)", cpu, nr_cpus);
	if (emu_cpu_mode == EMU_DET)
		arch_cpu_single = cpu;
	else
		arch_cpu_thread = cpu;
}

static void deadlock(const char *what)
{
	emu_panicf("deadlock: %s on CPU %u of a deterministic (single-threaded) "
		   "machine; nothing else can run to release it", what, arch_cpu_single);
}

void arch_cpu_relax(void)
{
	if (emu_cpu_mode == EMU_DET)
		deadlock("spinning on a held lock");
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

void arch_yield(void)
{
	if (emu_cpu_mode == EMU_DET)
		deadlock("waiting for a held sleeping lock");
	sched_yield();
}

struct cpu_thread {
	pthread_t thread;
	unsigned int cpu;
	void (*fn)(unsigned int cpu, void *arg);
	void *arg;
};

static void *cpu_thread_main(void *p)
{
	struct cpu_thread *t = p;

	arch_cpu_thread = t->cpu;
	t->fn(t->cpu, t->arg);
	return NULL;
}

/*
 * Runs fn(cpu, arg) for cpu 0..n-1: each on its own host thread bound as that
 * CPU (SMP), or in CPU order on the calling thread (deterministic). Returns 0,
 * -KMM_EINVAL if no machine is booted or n is not 1..arch_nr_cpus(), or
 * -KMM_EAGAIN if the host cannot start a thread (those started are joined).
 */
int emu_run_on_cpus(unsigned int n, void (*fn)(unsigned int cpu, void *arg), void *arg)
{
	struct cpu_thread threads[KMM_MAX_CPUS];
	unsigned int started, saved;
	int ret = 0;

	if (!emu_booted() || !fn || n == 0 || n > nr_cpus)
		return -KMM_EINVAL;
	if (emu_cpu_mode == EMU_DET) {
		saved = arch_cpu_single;
		for (unsigned int cpu = 0; cpu < n; cpu++) {
			arch_cpu_single = cpu;
			fn(cpu, arg);
		}
		arch_cpu_single = saved;
		return 0;
	}
	for (started = 0; started < n; started++) {
		threads[started] = (struct cpu_thread){ .cpu = started, .fn = fn, .arg = arg };
		if (pthread_create(&threads[started].thread, NULL, cpu_thread_main,
				   &threads[started])) {
			ret = -KMM_EAGAIN;
			break;
		}
	}
	for (unsigned int i = 0; i < started; i++)
		pthread_join(threads[i].thread, NULL);
	return ret;
}
