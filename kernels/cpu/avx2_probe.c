// Issue-port probe behind BenchmarkPorts: why the int8 tiles (avx2_pgemm.c)
// stop near three quarters of the maddubs peak. Each loop trip runs eight
// vpmaddubsw, alone or with eight vpaddw; only the adds' operands differ:
//
//   SW_PROBE_MB      8 maddubs, results unused: the maddubs pipes' peak.
//   SW_PROBE_ADD_IND + 8 adds of a constant into 8 accumulators, grouped
//                    after the maddubs: costs nothing (the adds take the
//                    other pipes).
//   SW_PROBE_ADD_ALT the same adds alternated one to one with the maddubs.
//   SW_PROBE_ADD_DEP + 8 adds of the maddubs' own results into the
//                    accumulators: the tiles' pattern (s += maddubs(w, x)).
//
// On Zen 3 (2 maddubs pipes, 4 vector pipes) ADD_IND matches MB, while
// ADD_ALT and ADD_DEP take about 22% longer: there enough of the adds are
// issued on the maddubs pipes to delay the maddubs. ADD_ALT differs from
// ADD_IND only in order; in ADD_DEP the adds wait on the maddubs, as the
// tiles' do, and every order tried was at least 16% slower than MB. None
// of vpaddw, vpsubw, vpaddd, vpaddq and vpaddsw is kept off those pipes,
// and eight maddubs results need seven adds, so the tiles' inner loop
// cannot reach the peak.
#if defined(__x86_64__)
#include "avx2.h"
#include "ops.h"

#define MB(d) "vpmaddubsw %%ymm0, %%ymm1, %%ymm" #d "\n\t"
#define ADD(s, a) "vpaddw %%ymm" #s ", %%ymm" #a ", %%ymm" #a "\n\t"
#define MB8 MB(2) MB(3) MB(4) MB(5) MB(6) MB(7) MB(2) MB(3)
#define CLOB "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

static void loop_mb(long n) {
	for (long i = 0; i < n; i++) __asm__ volatile(MB8 ::: CLOB);
}

static void loop_add_ind(long n) {
	for (long i = 0; i < n; i++)
		__asm__ volatile(MB8 ADD(1, 8) ADD(1, 9) ADD(1, 10) ADD(1, 11) ADD(1, 12) ADD(1, 13) ADD(1, 14) ADD(1, 15) ::: CLOB);
}

static void loop_add_alt(long n) {
	for (long i = 0; i < n; i++)
		__asm__ volatile(MB(2) ADD(1, 8) MB(3) ADD(1, 9) MB(4) ADD(1, 10) MB(5) ADD(1, 11) MB(6) ADD(1, 12) MB(7)
		                     ADD(1, 13) MB(2) ADD(1, 14) MB(3) ADD(1, 15) ::: CLOB);
}

static void loop_add_dep(long n) {
	for (long i = 0; i < n; i++)
		__asm__ volatile(MB(2) MB(3) ADD(2, 8) ADD(3, 9) MB(4) MB(5) ADD(4, 10) ADD(5, 11) MB(6) MB(7) ADD(6, 12)
		                     ADD(7, 13) MB(2) MB(3) ADD(2, 14) ADD(3, 15) ::: CLOB);
}

int sw_avx2_probe_ports(int kind, long n) {
	switch (kind) {
	case SW_PROBE_MB: loop_mb(n); return 0;
	case SW_PROBE_ADD_IND: loop_add_ind(n); return 0;
	case SW_PROBE_ADD_ALT: loop_add_alt(n); return 0;
	case SW_PROBE_ADD_DEP: loop_add_dep(n); return 0;
	}
	return -1;
}

SW_AVX2_END
#endif
