// REPn(M) expands M(0) … M(n−1): one statement per row of a register
// tile. Shared by the SIMD levels' tile files (avx2.h, avx512.h).
#ifndef SW_REP_H
#define SW_REP_H

#define REP1(M) M(0)
#define REP2(M) REP1(M) M(1)
#define REP3(M) REP2(M) M(2)
#define REP4(M) REP3(M) M(3)
#define REP5(M) REP4(M) M(4)
#define REP6(M) REP5(M) M(5)
#define REP7(M) REP6(M) M(6)
#define REP8(M) REP7(M) M(7)

#endif
