#!/usr/bin/env bash
# Runs a real single-node Apache Cassandra on 127.0.0.1 for Parley's tests, without Docker.
#
# Cassandra's jars (org.apache.cassandra:cassandra-all and its runtime dependencies) come from
# Maven Central through scripts/cassandra/pom.xml; Java 17 runs them with the JVM flags of
# Cassandra's own conf/jvm17-server.options. One instance serves a whole test run.
#
# usage:
#   cassandra.sh fetch               resolve the jars into $PARLEY_CASSANDRA_DIR/<version>/lib
#   cassandra.sh start [--lease PID] start the instance unless it runs; print HOST:PORT once the
#                                    CQL port accepts connections. Without --lease the instance
#                                    runs until "stop". With --lease it is stopped by a watchdog
#                                    once no leasing process is alive (after a grace period).
#   cassandra.sh stop                stop the instance and delete its data
#   cassandra.sh status              print HOST:PORT and exit 0 when it runs, exit 1 otherwise
#
# environment:
#   PARLEY_CASSANDRA_DIR            state and jars (default: <repo>/.tools/cassandra)
#   PARLEY_CASSANDRA_HEAP           JVM heap (default 512m)
#   PARLEY_CASSANDRA_START_TIMEOUT  seconds to wait for the CQL port (default 300)
#   PARLEY_CASSANDRA_GRACE          seconds the watchdog waits after the last lease (default 30)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="${PARLEY_CASSANDRA_DIR:-$repo/.tools/cassandra}"
heap="${PARLEY_CASSANDRA_HEAP:-512m}"
start_timeout="${PARLEY_CASSANDRA_START_TIMEOUT:-300}"
grace="${PARLEY_CASSANDRA_GRACE:-30}"
version="$(sed -n 's:.*<cassandra.version>\(.*\)</cassandra.version>.*:\1:p' "$here/pom.xml")"
lib="$dir/$version/lib"
run="$dir/run"

log() { echo "cassandra.sh: $*" >&2; }
die() { log "$*"; exit 1; }

mkdir -p "$dir"
exec 9>"$dir/lock"

# fetch resolves the jars once; a marker file records a complete copy.
fetch() {
	[ -f "$lib/.complete" ] && return 0
	command -v mvn >/dev/null || die "mvn not found: Maven is needed to fetch Cassandra's jars"
	log "fetching cassandra-all $version and its dependencies into $lib"
	rm -rf "$lib"
	mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib" >&2 ||
		die "mvn could not resolve cassandra-all $version (see its output above)"
	touch "$lib/.complete"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# running reports whether the recorded instance is alive.
running() {
	[ -f "$run/pid" ] && [ -f "$run/port" ] && kill -0 "$(cat "$run/pid")" 2>/dev/null
}

# launch starts the JVM in its own session and records its pid and ports.
launch() {
	command -v java >/dev/null || die "java not found: Cassandra $version needs Java 17"
	rm -rf "$run"
	mkdir -p "$run/data" "$run/leases"
	local port storage
	port="$(free_port)"
	storage="$(free_port)"
	sed -e "s:@DATA@:$run/data:g" -e "s:@PORT@:$port:g" -e "s:@STORAGE_PORT@:$storage:g" \
		"$here/cassandra.yaml" >"$run/cassandra.yaml"
	sed -e "s:@LOG@:$run/system.log:g" "$here/logback.xml" >"$run/logback.xml"
	local opts=()
	while read -r line; do
		case "$line" in '' | '#'*) continue ;; esac
		# shellcheck disable=SC2206 # "--add-opens x=y" is two words on one line
		opts+=($line)
	done <"$here/jvm17.options"
	setsid java -Xms"$heap" -Xmx"$heap" "${opts[@]}" \
		-Dcassandra.config="file://$run/cassandra.yaml" \
		-Dlogback.configurationFile="$run/logback.xml" \
		-Dcassandra.storagedir="$run/data" \
		-Dcassandra.logdir="$run" \
		-cp "$lib/*" org.apache.cassandra.service.CassandraDaemon -f \
		</dev/null >"$run/stdout.log" 2>&1 9>&- &
	echo $! >"$run/pid"
	echo "$port" >"$run/port"
	log "started Cassandra $version (pid $!, CQL port $port, log $run/system.log)"
}

# wait_cql waits until the CQL port accepts connections, the JVM dies, or the deadline passes.
wait_cql() {
	local port pid deadline
	port="$(cat "$run/port")"
	pid="$(cat "$run/pid")"
	deadline=$((SECONDS + start_timeout))
	until port_open "$port"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$run/system.log" "$run/stdout.log" >&2 || true
			die "Cassandra exited during startup (log: $run/system.log)"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 30 "$run/system.log" >&2 || true
			stop_instance
			die "Cassandra did not open CQL port $port within ${start_timeout}s"
		fi
		sleep 0.5
	done
}

stop_instance() {
	if [ -f "$run/pid" ]; then
		local pid
		pid="$(cat "$run/pid")"
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
			if kill -0 "$pid" 2>/dev/null; then
				log "Cassandra (pid $pid) ignored SIGTERM for 30s; killing it"
				kill -9 "$pid" 2>/dev/null || true
			fi
			log "stopped Cassandra (pid $pid)"
		fi
	fi
	rm -rf "$run"
}

# live_leases counts leases whose process is alive and removes the others. The lease named
# "manual" (a start without --lease) never lapses.
live_leases() {
	local n=0 f
	for f in "$run/leases"/*; do
		[ -e "$f" ] || continue
		local name="${f##*/}"
		if [ "$name" = manual ] || kill -0 "$name" 2>/dev/null; then
			n=$((n + 1))
		else
			rm -f "$f"
		fi
	done
	echo "$n"
}

# watchdog stops the instance once no lease has been alive for $grace seconds.
watchdog() {
	local pid idle_since=""
	pid="$(cat "$run/pid")"
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		flock 9
		[ "$(cat "$run/pid" 2>/dev/null)" = "$pid" ] || { flock -u 9; return 0; }
		if [ "$(live_leases)" -gt 0 ]; then
			idle_since=""
		elif [ -z "$idle_since" ]; then
			idle_since=$SECONDS
		elif ((SECONDS - idle_since >= grace)); then
			log "no test process holds a lease any more; stopping Cassandra"
			stop_instance
			flock -u 9
			return 0
		fi
		flock -u 9
	done
}

cmd="${1:-}"
shift || true
case "$cmd" in
fetch)
	flock 9
	fetch
	;;
start)
	lease=manual
	if [ "${1:-}" = --lease ]; then
		lease="${2:?--lease needs a pid}"
	fi
	flock 9
	fetch
	if ! running; then
		launch
		if [ "$lease" != manual ]; then
			touch "$run/leases/$lease"
			# The watchdog holds no lock while it sleeps; it takes fd 9 only around checks.
			setsid bash "$0" _watchdog </dev/null >>"$dir/watchdog.log" 2>&1 9>&- &
		fi
	fi
	touch "$run/leases/$lease"
	wait_cql
	echo "127.0.0.1:$(cat "$run/port")"
	;;
_watchdog)
	watchdog
	;;
stop)
	flock 9
	stop_instance
	;;
status)
	if running && port_open "$(cat "$run/port")"; then
		echo "127.0.0.1:$(cat "$run/port")"
	else
		exit 1
	fi
	;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
