# scripts/gpu-lib.sh: helpers shared by gpu-check.sh and gpu-ab.sh (sourced).

# weight_bytes SPILLWAY FILE: bytes a decode step reads: every tensor but
# the token embedding (one row a token), unless the output layer is tied
# to it.
weight_bytes() {
	"$1" inspect --json "$2" | python3 -c '
import json, sys
t = json.load(sys.stdin)["tensors"]
names = {x["name"] for x in t}
tied = "output.weight" not in names
print(sum(x["bytes"] for x in t if tied or x["name"] != "token_embd.weight"))'
}

# copy_metric UNIT LOG: the figure BenchmarkCopy reported in UNIT (GB/s,
# spec-GB/s) in LOG, the last one if several.
copy_metric() {
	awk -v u="$1" '/^BenchmarkCopy/ { for (i = 1; i < NF; i++) if ($(i+1) == u) print $i }' "$2" | tail -n 1
}

# tg_rate: the tg rate of `spillway bench model` output on stdin (its
# Markdown table: model | backend | threads | test | t/s).
tg_rate() { awk -F'|' '$5 ~ /tg/ { split($6, a, " "); print a[1] }'; }
