// Persistent thread pool. The calling thread is worker 0; workers 1..n-1
// are pthreads that spin briefly on a generation counter after each task
// (ops of a forward pass come microseconds apart) and then sleep on a futex
// (a condition variable off Linux), so an idle backend costs no CPU.
//
// Tasks claim their work through the shared counter (sw_pool_next), so a
// task is complete as soon as the counter is exhausted, whoever ran it.
// When the caller runs out of work it closes the task: a worker that wakes
// up later (the machine may be oversubscribed) skips it instead of being
// waited for. The caller waits only for workers that actually joined.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "sw.h"

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#define SW_FUTEX 1
#else
#define SW_FUTEX 0
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define sw_relax() _mm_pause()
#else
#define sw_relax() ((void)0)
#endif

// How long an idle worker spins before sleeping.
#define SPIN_NS 200000

// state: generation in the high 32 bits; bit 31 set once the task is
// closed; the low bits count the workers inside it.
#define CLOSED (1ull << 31)
#define ACTIVE_MASK (CLOSED - 1)

struct sw_pool {
	int n;
	pthread_t *threads;
	_Atomic uint32_t gen;   // bumped once per task; futex word
	_Atomic uint64_t state; // see above
	_Atomic int sleepers;   // workers blocked (or about to block) on gen
	_Atomic int stop;
	_Atomic int counter;    // sw_pool_next
	sw_task_fn fn;
	void *arg;
#if !SW_FUTEX
	pthread_mutex_t mu;
	pthread_cond_t cv;
#endif
};

typedef struct {
	sw_pool *p;
	int ith;
} worker_arg;

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void wait_gen(sw_pool *p, uint32_t seen) {
	atomic_fetch_add(&p->sleepers, 1);
#if SW_FUTEX
	while (atomic_load(&p->gen) == seen)
		syscall(SYS_futex, &p->gen, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
#else
	pthread_mutex_lock(&p->mu);
	while (atomic_load(&p->gen) == seen) pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
#endif
	atomic_fetch_sub(&p->sleepers, 1);
}

static void wake_all(sw_pool *p) {
#if SW_FUTEX
	syscall(SYS_futex, &p->gen, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
#else
	pthread_mutex_lock(&p->mu);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
#endif
}

// Spin until gen moves past seen, then sleep; returns the new generation.
static uint32_t await_task(sw_pool *p, uint32_t seen) {
	uint64_t t0 = now_ns();
	for (int i = 0;; i++) {
		uint32_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
		if (g != seen) return g;
		sw_relax();
		if ((i & 255) == 255 && now_ns() - t0 > SPIN_NS) break;
	}
	wait_gen(p, seen);
	return atomic_load_explicit(&p->gen, memory_order_acquire);
}

// Enter task g unless it is already closed (or long gone).
static int join(sw_pool *p, uint32_t g) {
	uint64_t s = atomic_load(&p->state);
	for (;;) {
		if ((uint32_t)(s >> 32) != g || (s & CLOSED)) return 0;
		if (atomic_compare_exchange_weak(&p->state, &s, s + 1)) return 1;
	}
}

static void *worker(void *v) {
	worker_arg a = *(worker_arg *)v;
	free(v);
	sw_pool *p = a.p;
	uint32_t seen = 0;
	for (;;) {
		seen = await_task(p, seen);
		if (atomic_load(&p->stop)) break;
		if (!join(p, seen)) continue;
		p->fn(p->arg, a.ith, p->n);
		atomic_fetch_sub_explicit(&p->state, 1, memory_order_release);
	}
	return NULL;
}

sw_pool *sw_pool_new(int n) {
	if (n < 1) n = 1;
	sw_pool *p = calloc(1, sizeof *p);
	if (!p) return NULL;
	p->n = 1; // grows as threads start, so a failed start leaves a working pool
#if !SW_FUTEX
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
#endif
	p->threads = calloc((size_t)n, sizeof(pthread_t));
	if (!p->threads) {
		free(p);
		return NULL;
	}
	for (int i = 1; i < n; i++) {
		worker_arg *a = malloc(sizeof *a);
		if (!a) break;
		a->p = p;
		a->ith = i;
		if (pthread_create(&p->threads[i], NULL, worker, a) != 0) {
			free(a);
			break;
		}
		p->n = i + 1;
	}
	return p;
}

int sw_pool_size(const sw_pool *p) { return p->n; }

void sw_pool_run(sw_pool *p, sw_task_fn fn, void *arg) {
	if (p->n == 1) {
		fn(arg, 0, 1);
		return;
	}
	p->fn = fn;
	p->arg = arg;
	uint32_t g = atomic_load(&p->gen) + 1;
	atomic_store(&p->state, (uint64_t)g << 32);
	atomic_store_explicit(&p->gen, g, memory_order_release);
	if (atomic_load(&p->sleepers) > 0) wake_all(p);
	fn(arg, 0, p->n);
	uint64_t s = atomic_fetch_or(&p->state, CLOSED) | CLOSED;
	for (int i = 0; (s & ACTIVE_MASK) != 0; i++) {
		sw_relax();
		if ((i & 1023) == 1023) sched_yield();
		s = atomic_load_explicit(&p->state, memory_order_acquire);
	}
}

int sw_pool_next(sw_pool *p) { return atomic_fetch_add_explicit(&p->counter, 1, memory_order_relaxed); }
void sw_pool_reset_counter(sw_pool *p) { atomic_store(&p->counter, 0); }

void sw_pool_free(sw_pool *p) {
	if (!p) return;
	atomic_store(&p->stop, 1);
	atomic_fetch_add(&p->gen, 1);
	wake_all(p);
	for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
	free(p->threads);
	free(p);
}
