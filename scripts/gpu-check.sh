#!/usr/bin/env bash
# scripts/gpu-check.sh: the checks that need a GPU, on any CUDA host.
#   1. builds the kernels for this GPU (sm_90a on Hopper with nvcc >= 12)
#      when nvcc and Go are there, else uses the binaries that
#      scripts/gpu-pack.sh built elsewhere (bin/spillway, bin/*.test, with
#      the kernels embedded): a GPU host needs no Go toolchain;
#   2. conf: the conformance suite, the graph replay test and the host
#      checks on the GPU (go test ./kernels/cuda/);
#   3. oracle: the llama.cpp oracle comparison with the CUDA backend;
#      equiv: the batched-equals-alone test there (decode steps as graphs);
#      equiv-exp: the same, and the oracle's Q4_K_M model, with the
#      experimental paths on (SPILLWAY_CUDA_GEMV=stream
#      SPILLWAY_CUDA_ATTN=merge);
#   4. bw, gemv, decode: device bandwidth (a device-to-device copy), decode
#      GEMV bandwidth per weight type in a replayed graph (own kernels
#      beside the generic ones), and single-stream decode tok/s of
#      synthetic Llama-3-8B models (q4_k_m and f16) as a fraction of the
#      memory-bandwidth bound (weight bytes read per token / bandwidth),
#      beside llama.cpp's llama-bench when LLAMA_BENCH names one, and the
#      forward-pass rate with SPILLWAY_CUDA_GEMV=generic,
#      SPILLWAY_CUDA_PDL=0 and SPILLWAY_CUDA_FUSE=0 beside the defaults,
#      and with the experimental SPILLWAY_CUDA_GEMV=stream and
#      SPILLWAY_CUDA_ATTN=merge, which stay off until this table shows
#      them faster;
#      profile: each kernel's GPU time a decode token (ncu at the run's
#      clocks, scripts/ncu-summary.py) for both models;
#      batch: batched decode at 1, 8, 32, 128, 256 sequences and prefill
#      at 512 and 4096 tokens (spillway bench model) on the q4_k_m model;
#   5. writes bench/results/gpu-<date>-<gpu>.md (device, driver, commit,
#      figures) and exits non-zero when a check failed.
# Usage: scripts/gpu-check.sh [-n TOKENS]   (decode length, default 256)
# Environment: GPU_CHECK_STEPS (default "conf oracle equiv equiv-exp bw
# gemv decode profile batch"), GPU_CHECK_LOGS (log folder, default a
# temporary one),
# GPU_CHECK_STEP_TIMEOUT (seconds a step may run, default 900),
# LLAMA_BENCH (a CUDA build of llama.cpp's llama-bench to compare with;
# LLAMA_BENCH_WAIT seconds to wait for it while it builds; LLAMA_BENCH_ARGS
# extra flags for it, such as "-fa 1" for its flash-attention decode),
# SPILLWAY_SHARED (the test data, default ../shared).
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/gpu-lib.sh
. scripts/gpu-lib.sh
root=$PWD
ntok=256
[ "${1:-}" = "-n" ] && ntok=$2
steps=" ${GPU_CHECK_STEPS:-conf oracle equiv equiv-exp bw gemv decode profile batch} "
step_to=${GPU_CHECK_STEP_TIMEOUT:-900}
want() { case "$steps" in *" $1 "*) return 0 ;; esac; return 1; }

die() { echo "gpu-check: $*" >&2; exit 1; }
have_go=0
command -v go >/dev/null 2>&1 && have_go=1
command -v nvidia-smi >/dev/null 2>&1 || die "no nvidia-smi: not a CUDA host"
q() { nvidia-smi -i 0 --query-gpu="$1" --format=csv,noheader 2>/dev/null | head -n 1; }
gpu=$(q name); driver=$(q driver_version); cc=$(q compute_cap | tr -d .)
[ -n "$gpu" ] || die "nvidia-smi sees no GPU"
if [ $have_go = 1 ] && git rev-parse --short HEAD >/dev/null 2>&1; then
	commit=$(git rev-parse --short HEAD)
	git diff --quiet HEAD || commit="$commit (with local changes)"
else
	commit=$(cat bin/COMMIT 2>/dev/null || echo unknown)
fi
slug=$(echo "$gpu" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '-' | tr -s '-' | sed 's/-$//')
out="bench/results/gpu-$(date +%Y-%m-%d)-$slug.md"
logs=${GPU_CHECK_LOGS:-$(mktemp -d)}
mkdir -p "$logs"
failed=0
# status RC prints PASS or FAIL; it runs in $(...), so the final exit code
# is derived from the printed results at the end.
status() { if [ "$1" -eq 0 ]; then echo PASS; else echo FAIL; fi; }
skipped() { echo "not run"; }

# gotest PKGDIR FLAGS...: the package's tests through go test, or through
# the test binary gpu-pack.sh built (bin/<last path element>.test), run in
# the package's folder as go test would. FLAGS use the -test. prefix,
# which both accept.
gotest() {
	local dir=$1
	shift
	if [ $have_go = 1 ]; then
		timeout "$step_to" go test -count=1 "$@" "./$dir/"
	else
		(cd "$dir" && timeout "$step_to" "$root/bin/$(basename "$dir").test" -test.count=1 "$@")
	fi
}

# 1. Kernels for this GPU.
export PATH="$PATH:/usr/local/cuda/bin"
if [ $have_go = 0 ]; then
	for f in bin/spillway bin/cuda.test bin/engine.test; do
		[ -x "$f" ] || die "no Go toolchain and no $f: run scripts/gpu-pack.sh on a machine with Go and bring bin/"
	done
	built="prebuilt by scripts/gpu-pack.sh ($(cat bin/KERNELS 2>/dev/null || echo "kernels of unknown origin"))"
elif command -v nvcc >/dev/null 2>&1; then
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
[ $have_go = 0 ] || go build -o bin/spillway ./cmd/serve || die "go build failed"

# The 8B models take minutes to write: start them now, beside the tests.
mkdir -p models
types=""
{ want decode || want batch || want profile; } && types="q4_k_m"
{ want decode || want profile; } && types="$types f16"
for typ in $types; do
	m="models/llama-3-8b-$typ.gguf"
	[ -f "$m" ] || (bin/spillway mkmodel --preset llama-3-8b --type "$typ" --quiet -o "$m.tmp" >"$logs/mkmodel-$typ.log" 2>&1 && mv "$m.tmp" "$m") &
done

# 2. Conformance, graph replay, host checks on the GPU.
conf=$(skipped); conf_n=0; conf_f=0; conf_s=0
if want conf; then
	gotest kernels/cuda -test.v -test.run 'Conformance|Graph|Factory|Host|AttnPlan|AttnMerge|Gemv|PDL' >"$logs/conf.log" 2>&1
	conf=$(status $?)
	conf_n=$(grep -c -- '--- PASS' "$logs/conf.log"); conf_f=$(grep -c -- '--- FAIL' "$logs/conf.log")
	conf_s=$(grep -c -- '--- SKIP' "$logs/conf.log")
fi

# 3. Oracle (llama.cpp reference outputs) through the CUDA backend; then
# continuous batching on the GPU: 64 requests batched against each alone
# (decode steps replay CUDA graphs by default); failures list the
# requests, to be weighed against the FP16 tolerance.
oracle=$(skipped); equiv=$(skipped); equivx=$(skipped)
if want oracle; then
	SPILLWAY_TEST_BACKEND=cuda gotest engine -test.v -test.run TestOracle >"$logs/oracle.log" 2>&1
	oracle=$(status $?)
fi
if want equiv; then
	SPILLWAY_TEST_BACKEND=cuda gotest engine -test.v -test.run 'TestBatchedEqualsSolo' >"$logs/equiv.log" 2>&1
	equiv=$(status $?)
fi
if want equiv-exp; then
	SPILLWAY_CUDA_GEMV=stream SPILLWAY_CUDA_ATTN=merge SPILLWAY_TEST_BACKEND=cuda \
		gotest engine -test.v -test.run 'TestBatchedEqualsSolo|TestOracle/tiny-bpe' >"$logs/equiv-exp.log" 2>&1
	equivx=$(status $?)
fi

# 4. Benchmarks.
bw=0; spec=""
if want bw || want decode; then
	gotest kernels/cuda -test.run XXX -test.bench 'Copy$' -test.benchtime 10x >"$logs/copy.log" 2>&1
	bw=$(copy_metric GB/s "$logs/copy.log")
	spec=$(copy_metric spec-GB/s "$logs/copy.log")
	[ -n "$bw" ] || { failed=1; bw=0; cat "$logs/copy.log" >&2; }
fi
if want gemv; then
	gotest kernels/cuda -test.run XXX -test.bench 'GEMVGraph' -test.benchtime 20x -test.timeout 30m >"$logs/gemv.log" 2>&1 || failed=1
fi

# tps LOG: the generation rate spillway generate printed.
tps() { sed -n 's/.*generation: [0-9]* tokens in [0-9.]*s (\([0-9.]*\) tok\/s).*/\1/p' "$1" | tail -n 1; }
# llama_tg MODEL: llama-bench's mean decode rate (-n ntok, all layers on the GPU).
# LLAMA_BENCH_WAIT: seconds to wait for it to appear (a build in progress).
llama_tg() {
	[ -n "${LLAMA_BENCH:-}" ] || return 0
	for _ in $(seq "${LLAMA_BENCH_WAIT:-0}"); do [ -x "$LLAMA_BENCH" ] && break; sleep 1; done
	[ -x "$LLAMA_BENCH" ] || { echo "gpu-check: no $LLAMA_BENCH" >&2; return 0; }
	# shellcheck disable=SC2086 # LLAMA_BENCH_ARGS is a list of flags
	timeout "$step_to" "$LLAMA_BENCH" -m "$1" -ngl 99 -p 0 -n "$ntok" -r 3 ${LLAMA_BENCH_ARGS:-} -o json \
		>"$logs/llama-$2.json" 2>"$logs/llama-$2.log" || return 0
	python3 -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))[0]["avg_ts"])' "$logs/llama-$2.json" 2>/dev/null
}
decode_rows=""
ab_rows=""
for typ in $types; do
	want decode || continue
	m="models/llama-3-8b-$typ.gguf"
	wait
	[ -f "$m" ] || { failed=1; decode_rows="$decode_rows| $typ | FAIL: mkmodel: $(tail -n 1 "$logs/mkmodel-$typ.log") | | | | | |\n"; continue; }
	wb=$(weight_bytes bin/spillway "$m")
	timeout "$step_to" bin/spillway generate --model "$m" --device cuda --prompt "The spillway of a dam" -n "$ntok" \
		--ignore-eos --temp 0 >"$logs/gen-$typ.out" 2>"$logs/gen-$typ.log"
	rc=$?
	t=$(tps "$logs/gen-$typ.log")
	timeout "$step_to" bin/spillway generate --model "$m" --device cuda --prompt "The spillway of a dam" -n "$ntok" \
		--ignore-eos --temp 0 --enforce-eager >/dev/null 2>"$logs/gen-$typ-eager.log"
	eager=$(tps "$logs/gen-$typ-eager.log")
	lt=$(llama_tg "$m" "$typ")
	if [ $rc -ne 0 ] || [ -z "$t" ]; then
		failed=1
		decode_rows="$decode_rows| $typ | $(awk "BEGIN{printf \"%.2f\", $wb/1e9}") | FAIL: $(tail -n 1 "$logs/gen-$typ.log") | | | | ${lt:-} |\n"
		continue
	fi
	gbs=$(awk "BEGIN{printf \"%.0f\", $t*$wb/1e9}")
	frac=$(awk "BEGIN{ if ($bw > 0) printf \"%.0f%%\", 100*$t*$wb/1e9/$bw; else print \"n/a\" }")
	lfrac=""
	[ -n "$lt" ] && lfrac=$(awk "BEGIN{ if ($bw > 0) printf \" (%.0f%%)\", 100*$lt*$wb/1e9/$bw }")
	decode_rows="$decode_rows| $typ | $(awk "BEGIN{printf \"%.2f\", $wb/1e9}") | $t | $gbs | $frac | ${eager:-?} | ${lt:-not run}$lfrac |\n"
	# The forward passes alone (as llama-bench times them), with the fast
	# paths on and each turned off, side by side in this run.
	row="| $typ"
	for v in "" "SPILLWAY_CUDA_GEMV=generic" "SPILLWAY_CUDA_PDL=0" "SPILLWAY_CUDA_FUSE=0" \
		"SPILLWAY_CUDA_GEMV=generic SPILLWAY_CUDA_PDL=0 SPILLWAY_CUDA_FUSE=0" \
		"SPILLWAY_CUDA_GEMV=stream" "SPILLWAY_CUDA_ATTN=merge"; do
		r=$(env $v timeout "$step_to" bin/spillway bench model --model "$m" --device cuda -p 0 -n "$ntok" -r 3 2>&1 |
			tg_rate)
		f=""
		[ -n "$r" ] && f=$(awk "BEGIN{ if ($bw > 0) printf \" (%.0f%%)\", 100*$r*$wb/1e9/$bw }")
		row="$row | ${r:-FAIL}$f"
	done
	ab_rows="$ab_rows$row |\n"
done

# Profile: each kernel's GPU time a token, at the clocks the run gets (not
# ncu's base clocks) and with warm caches, for both models.
profile_md=""
if want profile; then
	ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
	for typ in $types; do
		m="models/llama-3-8b-$typ.gguf"
		wait
		[ -f "$m" ] && [ -x "$ncu" ] || { profile_md="$profile_md\n$typ: not run (no model or no ncu)\n"; continue; }
		timeout "$step_to" "$ncu" --clock-control none --cache-control none --graph-profiling node --csv \
			--metrics gpu__time_duration.sum bin/spillway bench model --model "$m" --device cuda -p 0 -n 8 -r 1 \
			>"$logs/ncu-$typ.csv" 2>"$logs/ncu-$typ.log"
		profile_md="$profile_md\n### $typ\n\n$(python3 scripts/ncu-summary.py "$logs/ncu-$typ.csv" 2>&1)\n"
	done
fi

# Batched decode and prefill (the q4_k_m model).
batch_table=""
if want batch; then
	wait
	m=models/llama-3-8b-q4_k_m.gguf
	timeout "$step_to" bin/spillway bench model --model "$m" --device cuda -p 512,4096 -n 0 -r 1 \
		--npl 1,8,32,128,256 --npl-gen 128 >"$logs/batch.md" 2>"$logs/batch.log" || failed=1
	batch_table=$(cat "$logs/batch.md"; tail -n 3 "$logs/batch.log")
fi

mkdir -p bench/results
{
	echo "# GPU check: $gpu, $(date +%Y-%m-%d)"
	echo
	echo "- device: $gpu (compute capability ${cc:-?}), driver $driver"
	echo "- commit: $commit"
	echo "- kernels: $built"
	echo "- measured device bandwidth (D2D copy, read+write): ${bw} GB/s (spec ${spec:-?} GB/s)"
	echo "- steps: $steps"
	echo
	echo "## Checks"
	echo
	echo "| check | result |"
	echo "|---|---|"
	echo "| go test ./kernels/cuda/ (conformance F16+BF16, graph replay, host checks) | $conf ($conf_n passed, $conf_f failed, $conf_s skipped) |"
	echo "| SPILLWAY_TEST_BACKEND=cuda go test -run TestOracle ./engine/ | $oracle |"
	echo "| SPILLWAY_TEST_BACKEND=cuda go test -run TestBatchedEqualsSolo ./engine/ (CUDA graphs) | $equiv |"
	echo "| the same, and TestOracle/tiny-bpe-Q4_K_M, with SPILLWAY_CUDA_GEMV=stream SPILLWAY_CUDA_ATTN=merge | $equivx |"
	if want equiv; then
		echo
		echo "Equivalence, per case (caching, no caching, tight pool): requests that departed from their solo"
		echo "run at a near-tie (solo margin under the F16 tolerance), and the pool's preemptions:"
		echo
		grep -h -o 'preemptions [0-9]*.*near-tie departures [0-9]* of [0-9]* requests' "$logs/equiv.log" | sed 's/^/- /'
	fi
	if want equiv-exp; then
		echo
		echo "Equivalence with the experimental paths on (SPILLWAY_CUDA_GEMV=stream SPILLWAY_CUDA_ATTN=merge), per case:"
		echo
		grep -h -o 'preemptions [0-9]*.*near-tie departures [0-9]* of [0-9]* requests' "$logs/equiv-exp.log" | sed 's/^/- /'
	fi
	if want decode; then
		echo
		echo "## Single-stream decode (synthetic Llama-3-8B, $ntok tokens, greedy)"
		echo
		echo "| weights | GB read per token | tok/s | GB/s | of bandwidth bound | tok/s with --enforce-eager | llama.cpp llama-bench tg$ntok${LLAMA_BENCH_ARGS:+ $LLAMA_BENCH_ARGS} tok/s |"
		echo "|---|---|---|---|---|---|---|"
		printf "%b" "$decode_rows"
		echo
		echo "Forward passes alone (\`spillway bench model -p 0 -n $ntok -r 3\`, tok/s and of bandwidth bound), with the"
		echo "GPU fast paths on and turned off one by one, in this run:"
		echo
		echo "| weights | defaults | SPILLWAY_CUDA_GEMV=generic | SPILLWAY_CUDA_PDL=0 | SPILLWAY_CUDA_FUSE=0 | all three off | SPILLWAY_CUDA_GEMV=stream | SPILLWAY_CUDA_ATTN=merge |"
		echo "|---|---|---|---|---|---|---|---|"
		printf "%b" "$ab_rows"
	fi
	if want profile; then
		echo
		echo "## Where a decode token's GPU time goes (ncu, per kernel, synthetic Llama-3-8B)"
		printf "%b" "$profile_md"
	fi
	if want batch; then
		echo
		echo "## Batched decode and prefill (synthetic Llama-3-8B Q4_K_M)"
		echo
		echo "$batch_table"
	fi
	if want gemv; then
		echo
		echo "## Decode GEMV (T=1) in a replayed graph, weight GB/s and fraction of ${bw} GB/s"
		echo
		echo "| kernel | GB/s | fraction | µs a launch |"
		echo "|---|---|---|---|"
		awk -v bw="$bw" '$1 ~ "^BenchmarkGEMVGraph/" {
			for (i = 1; i < NF; i++) { if ($(i+1) == "GB/s") g = $i; if ($(i+1) == "µs/launch") u = $i }
			name = $1; sub("^BenchmarkGEMVGraph/", "", name); sub(/-[0-9]+$/, "", name)
			printf "| %s | %.0f | %.0f%% | %.1f |\n", name, g, (bw > 0 ? 100 * g / bw : 0), u }' "$logs/gemv.log"
	fi
	if [ "$conf" = FAIL ] || [ "$oracle" = FAIL ] || [ "$equiv" = FAIL ] || [ "$equivx" = FAIL ]; then
		echo
		echo "## Failures"
		echo
		echo '```'
		grep -h -E -- '--- FAIL|_test.go:[0-9]+:|panic:' "$logs/conf.log" "$logs/oracle.log" "$logs/equiv.log" "$logs/equiv-exp.log" 2>/dev/null |
			grep -v -- ': skipping: ' | head -n 80
		echo '```'
	fi
} >"$out"
for r in "$conf" "$oracle" "$equiv" "$equivx"; do [ "$r" = FAIL ] && failed=1; done
echo "gpu-check: wrote $out (logs in $logs)"
cat "$out"
exit $failed
