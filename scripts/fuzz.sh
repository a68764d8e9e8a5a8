#!/usr/bin/env bash
# Runs every Go fuzz target for a bounded time: scripts/fuzz.sh [SECONDS] (default 10 per
# target). go test allows one -fuzz target per package run, so each target gets its own
# invocation. Prints each command, then a summary; exits 1 when any target failed. A
# failing input is written by go test to the package's testdata/fuzz/<FuzzName>/ and is
# replayed by plain `go test` from then on.
#
# Plain `go test` already runs every target over its seed corpus (testdata/fuzz/); this
# script is for searching beyond it.
#
# FUZZ_MINIMIZE (default 300x) bounds the minimization of each new input (go test's
# -fuzzminimizetime, a duration or a count like 300x). go's default of 60s per input makes
# the fuzzers with integer arguments spend short runs minimizing instead of fuzzing.
set -euo pipefail

seconds="${1:-10}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: $0 [SECONDS]   (seconds per fuzz target, a positive integer; default 10)" >&2
	exit 2
fi

minimize="${FUZZ_MINIMIZE:-300x}"

cd "$(dirname "$0")/.."

# package target
targets=(
	"./internal/chat FuzzDecodeRequest"
	"./internal/awslambda FuzzHandleFrame"
	"./internal/localgw FuzzGatewayFrame"
	"./internal/localgw FuzzGatewayHandshake"
	"./internal/auth FuzzHS256Verify"
	"./internal/auth FuzzHS256Claims"
	"./internal/auth FuzzOIDCVerify"
)

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

summary=()
failed=0
start=$SECONDS
for entry in "${targets[@]}"; do
	read -r pkg name <<<"$entry"
	cmd=(go test -run '^$' -fuzz "^${name}\$" -fuzztime "${seconds}s" -fuzzminimizetime "$minimize" "$pkg")
	echo "==> ${cmd[*]}"
	t0=$SECONDS
	status=ok
	if ! "${cmd[@]}" 2>&1 | tee "$log"; then
		status=FAIL
		failed=1
	fi
	# The last progress line holds the total: "fuzz: elapsed: 10s, execs: 123456 (...)".
	execs="$(sed -n 's/.*, execs: \([0-9]*\) .*/\1/p' "$log" | tail -n 1)"
	elapsed=$((SECONDS - t0))
	summary+=("$(printf '%-4s %-22s %-20s %4ss  %s execs (%s/s over the fuzz time)' \
		"$status" "$name" "$pkg" "$elapsed" "${execs:-?}" "$(( ${execs:-0} / seconds ))")")
done

echo
echo "fuzz summary (${seconds}s per target, $((SECONDS - start))s in all):"
printf '  %s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
	echo "some fuzz targets failed: see the output above; failing inputs are under <package>/testdata/fuzz/" >&2
	exit 1
fi
