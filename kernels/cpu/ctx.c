// Run-time ISA dispatch, backend contexts and scratch memory.
#define _DEFAULT_SOURCE // posix_memalign, madvise under -std=c11
#include <pthread.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "sw.h"
#include "gemm.h"

#if defined(__x86_64__)
static sw_isa_table avx2_table;
static pthread_once_t avx2_once = PTHREAD_ONCE_INIT;
static void fill_avx2(void) { sw_avx2_fill(&avx2_table); }
static sw_isa_table avx512_table;
static pthread_once_t avx512_once = PTHREAD_ONCE_INIT;
static void fill_avx512(void) { sw_avx512_fill(&avx512_table); }
#endif

int sw_isa_supported(int isa) {
	switch (isa) {
	case SW_ISA_SCALAR: return 1;
#if defined(__x86_64__)
	case SW_ISA_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
		       __builtin_cpu_supports("f16c");
	case SW_ISA_AVX512:
		// The AVX-512 kernels need VNNI (vpdpbusd) and the byte/word and
		// 256-bit forms; they also call the AVX2 ones.
		return sw_isa_supported(SW_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
		       __builtin_cpu_supports("avx512vnni");
#endif
	}
	return 0;
}

int sw_isa_best(void) {
	if (sw_isa_supported(SW_ISA_AVX512)) return SW_ISA_AVX512;
	if (sw_isa_supported(SW_ISA_AVX2)) return SW_ISA_AVX2;
	return SW_ISA_SCALAR;
}

// The SIMD tables start as copies of the ones below them, so each is filled once,
// lazily (backends may be created concurrently).
const sw_isa_table *sw_isa_get(int isa) {
	if (!sw_isa_supported(isa)) return NULL;
	switch (isa) {
	case SW_ISA_SCALAR: return &sw_scalar_table;
#if defined(__x86_64__)
	case SW_ISA_AVX2:
		pthread_once(&avx2_once, fill_avx2);
		return &avx2_table;
	case SW_ISA_AVX512:
		pthread_once(&avx512_once, fill_avx512);
		return &avx512_table;
#endif
	}
	return NULL;
}

// Large blocks (packed weights, the KV pool) are 2 MiB-aligned and asked
// for transparent huge pages: a batched step sweeps every weight once, and
// with 4 KiB pages each 4 KiB of it is a TLB miss.
#define SW_HUGE ((size_t)2 << 20)

void *sw_alloc(size_t n) {
	size_t sz = (n + 63) & ~(size_t)63;
	if (sz == 0) sz = 64;
	void *p = NULL;
	if (sz >= SW_HUGE) {
		if (posix_memalign(&p, SW_HUGE, sz) != 0) return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
		madvise(p, sz, MADV_HUGEPAGE); // advice only: without THP the pages stay small
#endif
	} else {
		p = aligned_alloc(64, sz);
	}
	if (p) memset(p, 0, sz);
	return p;
}

void sw_free(void *p) { free(p); }

int sw_ctx_reserve(sw_ctx *c, size_t shared, size_t per_thread) {
	if (shared > c->scratch_size) {
		void *p = sw_alloc(shared);
		if (!p) return -1;
		sw_free(c->scratch);
		c->scratch = p;
		c->scratch_size = shared;
	}
	if (per_thread > c->tscratch_size) {
		for (int i = 0; i < c->nth; i++) {
			void *p = sw_alloc(per_thread);
			if (!p) return -1;
			sw_free(c->tscratch[i]);
			c->tscratch[i] = p;
		}
		c->tscratch_size = per_thread;
	}
	return 0;
}

size_t sw_panel_scratch(int wtype, int k) {
	switch (wtype) {
	case SW_F32: case SW_F16: case SW_BF16: return (size_t)SW_FKC * 16 * 4;
	case SW_Q4_0: case SW_Q4_1: case SW_Q5_0: case SW_Q5_1: case SW_Q8_0:
		return (size_t)(k / QK) * SW_PANEL_L;
	default: return (size_t)(k / QKK) * SW_PANEL_K;
	}
}

sw_ctx *sw_ctx_new(int isa, int nthreads) {
	const sw_isa_table *k = sw_isa_get(isa);
	if (!k) return NULL;
	sw_ctx *c = calloc(1, sizeof *c);
	if (!c) return NULL;
	c->k = k;
	c->pool = sw_pool_new(nthreads);
	if (!c->pool) {
		free(c);
		return NULL;
	}
	c->nth = sw_pool_size(c->pool);
	c->tscratch = calloc((size_t)c->nth, sizeof(void *));
	if (!c->tscratch) {
		sw_pool_free(c->pool);
		free(c);
		return NULL;
	}
	return c;
}

void sw_ctx_free(sw_ctx *c) {
	if (!c) return;
	sw_pool_free(c->pool);
	for (int i = 0; i < c->nth; i++) sw_free(c->tscratch[i]);
	free(c->tscratch);
	sw_free(c->scratch);
	sw_rope_cache_free(c->rope);
	free(c);
}
