// kernels.cu: the one translation unit nvcc compiles into the fatbin that
// the Go binary embeds. Each included file is one focused group of kernels;
// a single unit keeps every kernel in one module, loaded with one
// cuModuleLoadData, with no device linking.
#include "elementwise.cu"
#include "norm.cu"
#include "rope.cu"
#include "matmul_q.cu"
#include "matmul_q4k.cu"
#include "matmul_q6k.cu"
#include "matmul_f.cu"
#include "matmul_mma.cu"
#include "attention.cu"
