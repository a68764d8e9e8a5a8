#!/usr/bin/env bash
# The fast-path figures of docs/benchmarks.md: `parley bench` against `parley local
# --aws-timings`, once with the stream path only (--inline-max-members 0) and once with
# inline delivery (the default), the same scenarios one after the other in one run.
#
#   scripts/bench-fastpath.sh              # every scenario, 20 s each (about 8 minutes)
#   DURATION=10s SCENARIOS="dm20 group100" scripts/bench-fastpath.sh
#   MODES="inline500" SCENARIOS=group500 scripts/bench-fastpath.sh   # --inline-max-members 500
#   ACTION=react SCENARIOS="dm20 group100" scripts/bench-fastpath.sh  # reactions instead of messages
#
# Scenarios: dm20 (DM, 20 msg/s), dm100 (DM, 100 msg/s), group10 (groups of 10, 10 msg/s),
# group100 (a group of 100, 5 msg/s), group500 (a group of 500, 1 msg/s). Everything
# listens on 127.0.0.1 only and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20s}
SCENARIOS=${SCENARIOS:-"dm20 dm100 group10 group100 group500"}
MODES=${MODES:-"stream inline"}
ACTION=${ACTION:-send}
PORT=${PORT:-18300}
export PARLEY_JWT_SECRET=${PARLEY_JWT_SECRET:-fastpath-bench-secret-0123456789abcdef}

work=$(mktemp -d)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/parley" ./cmd/parley

args_of() {
	case $1 in
	dm20) echo "--scenario dm --users 40 --rate 20" ;;
	dm100) echo "--scenario dm --users 200 --rate 100" ;;
	group10) echo "--scenario group --users 100 --group-size 10 --rate 10" ;;
	group100) echo "--scenario group --users 100 --group-size 100 --rate 5" ;;
	group500) echo "--scenario group --users 500 --group-size 500 --rate 1" ;;
	*) echo "unknown scenario $1" >&2; exit 2 ;;
	esac
}

for mode in $MODES; do
	case $mode in
	stream) inline=(--inline-max-members 0) ;;
	inline) inline=() ;;
	inline[0-9]*) inline=(--inline-max-members "${mode#inline}") ;;
	*) echo "unknown mode $mode (stream, inline, inlineN)" >&2; exit 2 ;;
	esac
	"$work/parley" local --addr "127.0.0.1:$PORT" --aws-timings "${inline[@]}" >"$work/local-$mode.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
		sleep 0.2
	done
	for s in $SCENARIOS; do
		echo "== $mode: $s ($ACTION)"
		# shellcheck disable=SC2046 # the scenario's flags are words
		"$work/parley" bench --url "ws://127.0.0.1:$PORT/ws" --duration "$DURATION" --progress off --action "$ACTION" $(args_of "$s")
	done
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
	PORT=$((PORT + 1))
done
