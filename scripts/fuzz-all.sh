#!/usr/bin/env bash
# scripts/fuzz-all.sh: runs every fuzz target of the module for FUZZTIME
# each (default 30s), one after another, and prints one line per target.
# A target fails when go test reports a failing input, which it writes to
# the package's testdata/fuzz/<Target>/ (commit it: plain go test then
# replays it as a regression test).
#
# Go 1.26's fuzzing coordinator can end a healthy run with a bare "context
# deadline exceeded" when -fuzztime expires while a worker is mid-call
# (golang/go#75804, fixed in Go 1.27). Such a run wrote no input; it is
# reported as "deadline race" and does not fail the sweep.
# Usage: scripts/fuzz-all.sh [PATTERN]   (PATTERN filters target names)
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
pattern=${1:-.}
failed=0
while read -r file name; do
	[[ $name =~ $pattern ]] || continue
	dir=$(dirname "$file")
	corpus="$dir/testdata/fuzz/$name"
	before=$(ls "$corpus" 2>/dev/null | sort)
	out=$("$GO" test -run XXX -fuzz "^$name\$" -fuzztime "$FUZZTIME" "./$dir/" 2>&1)
	rc=$?
	after=$(ls "$corpus" 2>/dev/null | sort)
	new=$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$')
	if [ $rc -eq 0 ]; then
		echo "ok    $dir $name"
	elif [ -z "$new" ] && grep -q "context deadline exceeded" <<<"$out"; then
		echo "ok    $dir $name (deadline race, golang/go#75804: no input written)"
	else
		failed=1
		echo "FAIL  $dir $name${new:+: $(sed "s|^|$corpus/|" <<<"$new" | paste -sd ' ')}"
		tail -n 20 <<<"$out" | sed 's/^/      /'
	fi
done < <(grep -rn --include='*_test.go' '^func Fuzz' . | sed 's|^\./||; s|:.*func | |; s|(.*||' | sort)
exit $failed
