#!/usr/bin/env bash
# Runs every fuzz target of the module for a while each and prints one summary line per target.
#
#   bench/fuzz/run.sh [DURATION] [PACKAGES...]
#
# DURATION is a go test -fuzztime value (default 60s); PACKAGES default to ./... . Targets are
# found with `go test -list 'Fuzz.*'`, so new ones are picked up without editing this script.
# FUZZ_PARALLEL sets the fuzzing workers per target (default: the number of CPUs).
# FUZZ_MINIMIZE bounds the minimization of each new interesting input (default 5s; go test's own
# default of 60s lets a target with slow inputs, such as YAML, spend most of its time minimizing).
# Exits 1 when a target crashes (go test writes the failing input under the package's
# testdata/fuzz/FuzzName/, where `go test -run FuzzName/ID` replays it), 2 when the targets cannot
# be listed.
set -uo pipefail
cd "$(dirname "$0")/../.."

duration=${1:-60s}
shift || true
pkgs=("$@")
[ ${#pkgs[@]} -eq 0 ] && pkgs=(./...)
parallel=${FUZZ_PARALLEL:-$(nproc 2>/dev/null || echo 1)}
minimize=${FUZZ_MINIMIZE:-5s}

# `go test -list` prints the matching names of each package, then "ok  <import path> <time>".
listing=$(go test -list '^Fuzz' "${pkgs[@]}" 2>&1) || { echo "$listing" >&2; echo "fuzz: cannot list the targets" >&2; exit 2; }
targets=()
names=()
while IFS= read -r line; do
	case "$line" in
	Fuzz*) names+=("$line") ;;
	ok*)
		pkg=$(awk '{print $2}' <<<"$line")
		for n in "${names[@]}"; do targets+=("$pkg $n"); done
		names=()
		;;
	esac
done <<<"$listing"

if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no targets found in ${pkgs[*]}"
	exit 0
fi
echo "fuzz: ${#targets[@]} targets, $duration each, $parallel workers"

failed=0
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	log=$(mktemp)
	start=$(date +%s)
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$duration" -fuzzminimizetime "$minimize" -parallel "$parallel" "$pkg" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	# The last progress line: "fuzz: elapsed: 60s, execs: 1234 (20/sec), new interesting: 5 (total: 40)".
	progress=$(grep -E '^fuzz: elapsed:' "$log" | tail -1 | sed -E 's/^fuzz: elapsed: [^,]*, //')
	if [ $rc -eq 0 ]; then
		printf 'PASS  %-55s %-14s %4ss  %s\n' "$pkg" "$name" "$secs" "$progress"
	else
		failed=1
		crasher=$(grep -oE 'testdata/fuzz/[^ ]+' "$log" | head -1)
		printf 'FAIL  %-55s %-14s %4ss  %s\n' "$pkg" "$name" "$secs" "${crasher:-see output below}"
		sed 's/^/      /' "$log" | tail -40
	fi
	rm -f "$log"
done
exit $failed
