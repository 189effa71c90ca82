// AVX-512 helpers shared by the avx512_*.c files. The level is AVX-512 F,
// BW, VL and VNNI (Ice Lake, Sapphire Rapids, Zen 4 and later): its
// tables start from the AVX2 ones and replace the kernels that the wider
// registers and vpdpbusd make faster. Only x86-64 builds compile the files
// that include it, and only CPUs that sw_isa_supported(SW_ISA_AVX512)
// accepts run them.
#ifndef SW_AVX512_H
#define SW_AVX512_H

#include "sw.h"
#include "gemm.h"

#include <immintrin.h>
#include <string.h>

// Every function from here to the end of the including file is compiled
// for this level; the file must end with SW_AVX512_END.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), \
                             apply_to = function)
#define SW_AVX512_END _Pragma("clang attribute pop")
#else
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
#define SW_AVX512_END
#endif

#define FORCE512 static inline __attribute__((always_inline))

// The 4 bytes at p in every 32-bit lane.
FORCE512 __m512i bcast4_512(const uint8_t *p) {
	int32_t v;
	memcpy(&v, p, 4);
	return _mm512_set1_epi32(v);
}

// REPn(M) expands M(0) … M(n−1): one statement per row of a register tile.
#define R512_1(M) M(0)
#define R512_2(M) R512_1(M) M(1)
#define R512_3(M) R512_2(M) M(2)
#define R512_4(M) R512_3(M) M(3)
#define R512_5(M) R512_4(M) M(4)
#define R512_6(M) R512_5(M) M(5)
#define R512_7(M) R512_6(M) M(6)
#define R512_8(M) R512_7(M) M(7)

#endif
