#!/usr/bin/env bash
# scripts/llama-pack.sh: builds llama.cpp's llama-bench with CUDA here
# (nvcc of scripts/install-nvcc.sh, sm_90 only) from a llama.cpp source
# tree kept outside this repository, and packs it with the libraries it
# loads into a tarball that a GPU host can run without a CUDA toolkit:
# gpu-check.sh's side-by-side decode then needs no 10-minute build there.
#
# CUDA 11's cuBLAS (about 670 MB) is too big to carry, so the tarball's
# libcublas.so.11 is a stand-in that aborts with a message if any entry
# point is called. llama-bench's decode benchmark with flash attention
# (-fa 1 -p 0) never calls cuBLAS: quantized weights go through its own
# mmvq kernels, F16 ones through its own mul_mat_vec, and attention through
# its flash-attention kernels. DIR/llama-bench.sh runs it with the packed
# libraries (and only it: nothing else sees them):
#   DIR/llama-bench.sh -m M -ngl 99 -fa 1 -p 0 -n 128
# or through gpu-check.sh: LLAMA_BENCH=DIR/llama-bench.sh LLAMA_BENCH_ARGS="-fa 1".
# Usage: scripts/llama-pack.sh LLAMA_SRC TARBALL   (about 20 minutes on 2 cores;
# LLAMA_BUILD=DIR keeps the CMake build there, so a second run only packs)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 LLAMA_SRC TARBALL" >&2; exit 2; }
src=$(cd "$1" && pwd)
out=$(realpath -m "$2")
[ -f "$src/CMakeLists.txt" ] || { echo "llama-pack: $src is not a llama.cpp source tree" >&2; exit 1; }
command -v nvcc >/dev/null || { echo "llama-pack: no nvcc: run scripts/install-nvcc.sh" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build=${LLAMA_BUILD:-$work/b}
cmake -S "$src" -B "$build" -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DBUILD_SHARED_LIBS=OFF \
	-DLLAMA_CURL=OFF -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" ||
	{ tail -n 20 "$work/cmake.log" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" --target llama-bench >"$work/build.log" ||
	{ tail -n 20 "$work/build.log" >&2; exit 1; }

pack="$work/pack"
mkdir -p "$pack"
cp "$build/bin/llama-bench" "$pack/" && strip "$pack/llama-bench"
# The stand-in cuBLAS: the symbols llama-bench links, versioned as CUDA
# 11's library versions them.
cat >"$work/cublas.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
static int stub(const char *f) {
	fprintf(stderr, "cublas stand-in: %s called; this llama-bench cannot run cuBLAS paths (use -fa 1 -p 0)\n", f);
	abort();
}
int cublasCreate_v2(void) { return stub("cublasCreate"); }
int cublasDestroy_v2(void) { return stub("cublasDestroy"); }
int cublasSetStream_v2(void) { return stub("cublasSetStream"); }
int cublasSetMathMode(void) { return stub("cublasSetMathMode"); }
int cublasSgemm_v2(void) { return stub("cublasSgemm"); }
int cublasGemmEx(void) { return stub("cublasGemmEx"); }
int cublasGemmBatchedEx(void) { return stub("cublasGemmBatchedEx"); }
int cublasGemmStridedBatchedEx(void) { return stub("cublasGemmStridedBatchedEx"); }
const char *cublasGetStatusString(void) { return "cublas stand-in"; }
EOF
echo 'libcublas.so.11 { global: *; };' >"$work/cublas.map"
gcc -shared -fPIC -O2 -Wl,--version-script="$work/cublas.map" -Wl,-soname,libcublas.so.11 \
	-o "$pack/libcublas.so.11" "$work/cublas.c"
missing=$(nm -D --undefined-only "$pack/llama-bench" | sed -n 's/.* \(cublas[A-Za-z_0-9]*\)@.*/\1/p' |
	while read -r s; do nm -D --defined-only "$pack/libcublas.so.11" | grep -q " $s@" || echo "$s"; done)
[ -z "$missing" ] || { echo "llama-pack: the stand-in lacks: $missing" >&2; exit 1; }
# The rest of what it loads, except the driver (libcuda.so.1) and libc.
for l in libcudart.so.11.0 libgomp.so.1 libstdc++.so.6; do
	p=$(ldconfig -p | awk -v l="$l" '$1 == l { print $NF; exit }')
	[ -n "$p" ] || { echo "llama-pack: no $l here" >&2; exit 1; }
	cp -L "$p" "$pack/"
done
cat >"$pack/llama-bench.sh" <<'SH'
#!/bin/sh
d=$(dirname "$0")
LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$d/llama-bench" "$@"
SH
chmod +x "$pack/llama-bench.sh"
tar -cf - -C "$pack" . | xz -T0 >"$out"
ls -la "$out"
