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
#include "rep.h"

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

#endif
