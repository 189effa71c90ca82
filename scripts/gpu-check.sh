#!/usr/bin/env bash
# scripts/gpu-check.sh: the checks that need a GPU, on any CUDA host.
#   1. builds the kernels for this GPU (sm_90a on Hopper with nvcc >= 12)
#      when nvcc is there, else uses the fatbin already built by make cuda;
#   2. runs the conformance suite, the graph replay test and the host
#      checks on the GPU (go test ./kernels/cuda/);
#   3. runs the llama.cpp oracle comparison with the CUDA backend
#      (SPILLWAY_TEST_BACKEND=cuda go test -run TestOracle ./engine/), and
#      the batched-equals-alone test there (decode steps as CUDA graphs);
#   4. measures device bandwidth (a device-to-device copy), decode GEMV
#      bandwidth per weight type, and single-stream decode tok/s of
#      synthetic Llama-3-8B models (q4_k_m and f16), as a fraction of the
#      memory-bandwidth bound: weight bytes read per token / bandwidth;
#   5. writes bench/results/gpu-<date>-<gpu>.md (device, driver, commit,
#      figures) and exits non-zero when a check failed.
# Usage: scripts/gpu-check.sh [-n TOKENS]   (decode length, default 256)
set -uo pipefail
cd "$(dirname "$0")/.."
ntok=256
[ "${1:-}" = "-n" ] && ntok=$2

die() { echo "gpu-check: $*" >&2; exit 1; }
command -v nvidia-smi >/dev/null 2>&1 || die "no nvidia-smi: not a CUDA host"
q() { nvidia-smi -i 0 --query-gpu="$1" --format=csv,noheader 2>/dev/null | head -n 1; }
gpu=$(q name); driver=$(q driver_version); cc=$(q compute_cap | tr -d .)
[ -n "$gpu" ] || die "nvidia-smi sees no GPU"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit (with local changes)"
slug=$(echo "$gpu" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '-' | tr -s '-' | sed 's/-$//')
out="bench/results/gpu-$(date +%Y-%m-%d)-$slug.md"
logs=$(mktemp -d)
failed=0
status() { if [ "$1" -eq 0 ]; then echo PASS; else failed=1; echo FAIL; fi; }

# 1. Kernels for this GPU.
export PATH="$PATH:/usr/local/cuda/bin"
if command -v nvcc >/dev/null 2>&1; then
	nvmaj=$(nvcc --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p')
	arch=${cc:-}
	[ "$arch" = 90 ] && [ "${nvmaj:-0}" -ge 12 ] && arch=90a
	if [ -n "$arch" ]; then
		make cuda CUDA_ARCHS="$arch" CUDA_PTX= CUDA_WERROR=OFF >"$logs/build.log" 2>&1 || { cat "$logs/build.log"; die "make cuda failed"; }
	else
		make cuda CUDA_WERROR=OFF >"$logs/build.log" 2>&1 || { cat "$logs/build.log"; die "make cuda failed"; }
	fi
	built="nvcc $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'), sm_${arch:-80/86/89/90}"
else
	[ -s kernels/cuda/fatbin/spillway.fatbin ] || die "no nvcc and no kernels/cuda/fatbin/spillway.fatbin: run scripts/install-nvcc.sh && make cuda"
	built="prebuilt fatbin (no nvcc here)"
fi
go build -o bin/spillway ./cmd/serve || die "go build failed"

# 2. Conformance, graph replay, host checks on the GPU.
go test -count=1 -v -run 'Conformance|Graph|Factory|Host|AttnPlan' ./kernels/cuda/ >"$logs/conf.log" 2>&1
conf=$(status $?)
conf_n=$(grep -c -- '--- PASS' "$logs/conf.log"); conf_f=$(grep -c -- '--- FAIL' "$logs/conf.log")
conf_s=$(grep -c -- '--- SKIP' "$logs/conf.log")

# 3. Oracle (llama.cpp reference outputs) through the CUDA backend.
SPILLWAY_TEST_BACKEND=cuda go test -count=1 -v -run TestOracle ./engine/ >"$logs/oracle.log" 2>&1
oracle=$(status $?)

# 3b. Continuous batching on the GPU: 64 requests batched against each
# alone (decode steps replay CUDA graphs by default); failures list the
# requests, to be weighed against the FP16 tolerance.
SPILLWAY_TEST_BACKEND=cuda go test -count=1 -v -run 'TestBatchedEqualsSolo' ./engine/ >"$logs/equiv.log" 2>&1
equiv=$(status $?)

# 4. Benchmarks.
go test -count=1 -run XXX -bench 'Copy$' -benchtime 10x ./kernels/cuda/ >"$logs/copy.log" 2>&1
bw=$(awk '/^BenchmarkCopy/ { for (i = 1; i < NF; i++) if ($(i+1) == "GB/s") print $i }' "$logs/copy.log" | tail -n 1)
spec=$(awk '/^BenchmarkCopy/ { for (i = 1; i < NF; i++) if ($(i+1) == "spec-GB/s") print $i }' "$logs/copy.log" | tail -n 1)
[ -n "$bw" ] || { failed=1; bw=0; cat "$logs/copy.log" >&2; }
go test -count=1 -run XXX -bench 'GEMV' -benchtime 50x -timeout 30m ./kernels/cuda/ >"$logs/gemv.log" 2>&1 || failed=1

# weight_bytes FILE: bytes a decode step reads: every tensor but the token
# embedding (one row a token), unless the output layer is tied to it.
weight_bytes() {
	bin/spillway inspect --json "$1" | python3 -c '
import json, sys
t = json.load(sys.stdin)["tensors"]
names = {x["name"] for x in t}
tied = "output.weight" not in names
print(sum(x["bytes"] for x in t if tied or x["name"] != "token_embd.weight"))'
}
decode_rows=""
for typ in q4_k_m f16; do
	m="models/llama-3-8b-$typ.gguf"
	[ -f "$m" ] || bin/spillway mkmodel --preset llama-3-8b --type "$typ" --quiet -o "$m" >/dev/null || { failed=1; continue; }
	wb=$(weight_bytes "$m")
	bin/spillway generate --model "$m" --device cuda --prompt "The spillway of a dam" -n "$ntok" \
		--ignore-eos --temp 0 >"$logs/gen-$typ.out" 2>"$logs/gen-$typ.log"
	rc=$?
	tps=$(sed -n 's/.*generation: [0-9]* tokens in [0-9.]*s (\([0-9.]*\) tok\/s).*/\1/p' "$logs/gen-$typ.log" | tail -n 1)
	bin/spillway generate --model "$m" --device cuda --prompt "The spillway of a dam" -n "$ntok" \
		--ignore-eos --temp 0 --enforce-eager >/dev/null 2>"$logs/gen-$typ-eager.log"
	eager=$(sed -n 's/.*generation: [0-9]* tokens in [0-9.]*s (\([0-9.]*\) tok\/s).*/\1/p' "$logs/gen-$typ-eager.log" | tail -n 1)
	if [ $rc -ne 0 ] || [ -z "$tps" ]; then
		failed=1
		decode_rows="$decode_rows| $typ | $(awk "BEGIN{printf \"%.2f\", $wb/1e9}") | FAIL: $(tail -n 1 "$logs/gen-$typ.log") | | | |\n"
		continue
	fi
	gbs=$(awk "BEGIN{printf \"%.0f\", $tps*$wb/1e9}")
	frac=$(awk "BEGIN{ if ($bw > 0) printf \"%.0f%%\", 100*$tps*$wb/1e9/$bw; else print \"n/a\" }")
	decode_rows="$decode_rows| $typ | $(awk "BEGIN{printf \"%.2f\", $wb/1e9}") | $tps | $gbs | $frac | ${eager:-?} |\n"
done

mkdir -p bench/results
{
	echo "# GPU check: $gpu, $(date +%Y-%m-%d)"
	echo
	echo "- device: $gpu (compute capability ${cc:-?}), driver $driver"
	echo "- commit: $commit"
	echo "- kernels: $built"
	echo "- measured device bandwidth (D2D copy, read+write): ${bw} GB/s (spec ${spec:-?} GB/s)"
	echo
	echo "## Checks"
	echo
	echo "| check | result |"
	echo "|---|---|"
	echo "| go test ./kernels/cuda/ (conformance F16+BF16, graph replay, host checks) | $conf ($conf_n passed, $conf_f failed, $conf_s skipped) |"
	echo "| SPILLWAY_TEST_BACKEND=cuda go test -run TestOracle ./engine/ | $oracle |"
	echo "| SPILLWAY_TEST_BACKEND=cuda go test -run TestBatchedEqualsSolo ./engine/ (CUDA graphs) | $equiv |"
	echo
	echo "## Single-stream decode (synthetic Llama-3-8B, $ntok tokens, greedy)"
	echo
	echo "| weights | GB read per token | tok/s | GB/s | of bandwidth bound | tok/s with --enforce-eager |"
	echo "|---|---|---|---|---|---|"
	printf "%b" "$decode_rows"
	echo
	echo "## Decode GEMV (T=1), weight GB/s and fraction of ${bw} GB/s"
	echo
	echo "| kernel | GB/s | fraction |"
	echo "|---|---|---|"
	awk -v bw="$bw" '/^BenchmarkGEMV\// {
		for (i = 1; i < NF; i++) if ($(i+1) == "GB/s") g = $i
		name = $1; sub(/^BenchmarkGEMV\//, "", name); sub(/-[0-9]+$/, "", name)
		printf "| %s | %.0f | %.0f%% |\n", name, g, bw > 0 ? 100 * g / bw : 0 }' "$logs/gemv.log"
	if [ "$conf" = FAIL ] || [ "$oracle" = FAIL ] || [ "$equiv" = FAIL ]; then
		echo
		echo "## Failures"
		echo
		echo '```'
		grep -E -- '--- FAIL|_test.go:[0-9]+:' "$logs/conf.log" "$logs/oracle.log" "$logs/equiv.log" | head -n 60
		echo '```'
	fi
} >"$out"
echo "gpu-check: wrote $out (logs in $logs)"
cat "$out"
exit $failed
