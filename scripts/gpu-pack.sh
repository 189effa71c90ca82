#!/usr/bin/env bash
# scripts/gpu-pack.sh: builds what scripts/gpu-check.sh runs, for a CUDA
# host that has no Go toolchain: bin/spillway and the test binaries of
# kernels/cuda and engine, each embedding the kernels of make cuda (built
# here first when nvcc is here), plus bin/COMMIT and bin/KERNELS that the
# results file quotes. The machine that runs them must be x86-64 Linux
# like this one; carry the repository with bin/ and run gpu-check.sh there.
# Usage: scripts/gpu-pack.sh [TARBALL]   (also packs bin/ into TARBALL)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"
if command -v nvcc >/dev/null 2>&1; then
	make cuda >/dev/null
	kern="nvcc $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'), sm_80/86/89/90 + PTX"
else
	[ -s kernels/cuda/fatbin/spillway.fatbin ] || { echo "gpu-pack: no nvcc and no fatbin: run scripts/install-nvcc.sh" >&2; exit 1; }
	kern="fatbin built earlier"
fi
mkdir -p bin
ld="-s -w"
go build -ldflags "$ld" -o bin/spillway ./cmd/serve
go test -c -ldflags "$ld" -o bin/cuda.test ./kernels/cuda/
go test -c -ldflags "$ld" -o bin/engine.test ./engine/
c=$(git rev-parse --short HEAD)
git diff --quiet HEAD || c="$c (with local changes)"
echo "$c" >bin/COMMIT
echo "$kern" >bin/KERNELS
if [ -n "${1:-}" ]; then
	tar cJf "$1" bin/spillway bin/cuda.test bin/engine.test bin/COMMIT bin/KERNELS
fi
ls -la bin/spillway bin/cuda.test bin/engine.test
