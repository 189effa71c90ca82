#!/usr/bin/env bash
# scripts/gpu-ab.sh: single-stream decode of several spillway builds, and of
# llama.cpp when LLAMA_BENCH names one, run alternately on one GPU host, so
# that their ratios come from one machine: the device tool's machines of one
# kind differed by up to 8% in decode rate from call to call (session 13),
# more than most kernel changes gain.
#
# Usage: scripts/gpu-ab.sh OUT NAME=SPILLWAY [NAME=SPILLWAY ...]
#   e.g. scripts/gpu-ab.sh /tmp/ab old=/tmp/old/bin/spillway new=bin/spillway
# The first build writes the synthetic Llama-3-8B models (spillway mkmodel)
# into GPU_AB_MODELS unless they are there. Each round runs every build (and
# llama-bench) once per weight type, `bench model -p 0 -n 128 -r 3`.
# OUT gets tg.md (a row per run: round, type, name, t/s, fraction of the
# bandwidth bound), copy.txt (the bandwidth, when bin/cuda.test is here)
# and, per build when asked, ncu-NAME.md (each kernel's GPU time a token,
# scripts/ncu-summary.py) and batch-NAME.md (the batched-decode sweep).
# Environment: GPU_AB_ROUNDS (default 2), GPU_AB_TYPES (default "q4_k_m
# f16"), GPU_AB_MODELS (default models), LLAMA_BENCH (llama-bench, or the
# llama-bench.sh of scripts/llama-pack.sh; run with -fa 1), GPU_AB_NCU=1,
# GPU_AB_BATCH=1.
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/gpu-lib.sh
. scripts/gpu-lib.sh
[ $# -ge 2 ] || { sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
out=$1
shift
mkdir -p "$out"
names=() bins=()
for a in "$@"; do
	n=${a%%=*} b=${a#*=}
	[ "$n" != "$a" ] && [ -n "$n" ] || { echo "gpu-ab: $a is not NAME=SPILLWAY" >&2; exit 2; }
	[ -x "$b" ] || { echo "gpu-ab: $b (build $n) is not an executable" >&2; exit 2; }
	names+=("$n") bins+=("$b")
done
rounds=${GPU_AB_ROUNDS:-2}
types=${GPU_AB_TYPES:-q4_k_m f16}
mdir=${GPU_AB_MODELS:-models}
mkdir -p "$mdir"

bw=0
if [ -x bin/cuda.test ]; then
	(cd kernels/cuda && ../../bin/cuda.test -test.run XXX -test.bench 'Copy$' -test.benchtime 10x) >"$out/copy.txt" 2>&1
	bw=$(copy_metric GB/s "$out/copy.txt")
fi
for t in $types; do
	m="$mdir/llama-3-8b-$t.gguf"
	[ -f "$m" ] && continue
	"${bins[0]}" mkmodel --preset llama-3-8b --type "$t" --quiet -o "$m.tmp" && mv "$m.tmp" "$m" ||
		{ echo "gpu-ab: mkmodel $t failed" >&2; exit 1; }
done

# row ROUND TYPE NAME RATE GB: a row of tg.md.
row() {
	local f="n/a"
	[ -n "$4" ] && [ "${bw:-0}" != 0 ] && f=$(awk "BEGIN { printf \"%.1f%%\", 100*$4*$5/$bw }")
	echo "| $1 | $2 | $3 | ${4:-FAIL} | $f |" >>"$out/tg.md"
}
{
	[ "${bw:-0}" != 0 ] && echo "Copy bandwidth: $bw GB/s." || echo "Copy bandwidth: not measured (no bin/cuda.test)."
	echo "\`bench model -p 0 -n 128 -r 3\`; llama-bench \`-ngl 99 -fa 1 -p 0 -n 128 -r 3\`."
	echo
	echo "| round | weights | build | tg128 t/s | of bound |"
	echo "|---|---|---|---|---|"
} >"$out/tg.md"
for r in $(seq "$rounds"); do
	for t in $types; do
		m="$mdir/llama-3-8b-$t.gguf"
		gb=$(awk -v b="$(weight_bytes "${bins[0]}" "$m")" 'BEGIN { print b / 1e9 }')
		if [ -n "${LLAMA_BENCH:-}" ]; then
			v=$(timeout 300 "$LLAMA_BENCH" -m "$m" -ngl 99 -fa 1 -p 0 -n 128 -r 3 2>&1 |
				awk -F'|' '$8 ~ /tg128/ { split($9, a, " "); print a[1] }')
			row "$r" "$t" llama.cpp "$v" "$gb"
		fi
		for i in "${!names[@]}"; do
			v=$(timeout 300 "${bins[$i]}" bench model --model "$m" --device cuda -p 0 -n 128 -r 3 2>&1 | tg_rate)
			row "$r" "$t" "${names[$i]}" "$v" "$gb"
		done
	done
done
ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
for i in "${!names[@]}"; do
	m="$mdir/llama-3-8b-$(echo "$types" | awk '{ print $1 }').gguf"
	if [ "${GPU_AB_NCU:-0}" = 1 ] && [ -x "$ncu" ]; then
		timeout 300 "$ncu" --clock-control none --cache-control none --graph-profiling node --csv \
			--metrics gpu__time_duration.sum "${bins[$i]}" bench model --model "$m" --device cuda -p 0 -n 4 -r 1 \
			>"$out/ncu-${names[$i]}.csv" 2>"$out/ncu-${names[$i]}.log"
		python3 scripts/ncu-summary.py "$out/ncu-${names[$i]}.csv" >"$out/ncu-${names[$i]}.md" 2>&1
	fi
	if [ "${GPU_AB_BATCH:-0}" = 1 ]; then
		timeout 600 "${bins[$i]}" bench model --model "$m" --device cuda -p 512,4096 -n 0 -r 1 \
			--npl 1,8,32,128,256 --npl-gen 128 >"$out/batch-${names[$i]}.md" 2>&1
	fi
done
cat "$out/tg.md"
