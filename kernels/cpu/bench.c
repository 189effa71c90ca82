// Memory-bandwidth probe: every pool thread sums its slice of a buffer, so
// the benchmarks can print MatMul GB/s next to what plain reads achieve
// with the same threads.
#include "sw.h"
#include "ops.h"

typedef struct {
	const uint8_t *buf;
	size_t n;
	sw_pool *pool;
	uint64_t part[256];
} read_job;

// The buffer is read in 1 MiB pieces claimed in turn.
static void read_task(void *arg, int ith, int nth) {
	(void)nth;
	read_job *j = arg;
	const size_t piece = 1 << 17; // words
	size_t words = j->n / 8;
	const uint64_t *p = (const uint64_t *)j->buf;
	uint64_t s[8] = {0};
	for (size_t u; (u = (size_t)sw_pool_next(j->pool)) * piece < words;) {
		size_t a = u * piece, b = a + piece < words ? a + piece : words, i = a;
		for (; i + 8 <= b; i += 8)
			for (int k = 0; k < 8; k++) s[k] += p[i + k];
		for (; i < b; i++) s[0] += p[i];
	}
	j->part[ith & 255] += s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

double sw_bench_read(sw_ctx *c, const uint8_t *buf, size_t n) {
	read_job j = {.buf = buf, .n = n, .pool = c->pool};
	sw_pool_reset_counter(c->pool);
	sw_pool_run(c->pool, read_task, &j);
	uint64_t s = 0;
	for (int i = 0; i < 256; i++) s += j.part[i];
	return (double)s;
}

#if defined(__x86_64__)
int sw_avx2_probe_ports(int kind, long n);
#endif

int sw_probe_ports(int kind, long n) {
#if defined(__x86_64__)
	if (sw_isa_supported(SW_ISA_AVX2)) return sw_avx2_probe_ports(kind, n);
#endif
	(void)kind, (void)n;
	return -1;
}
