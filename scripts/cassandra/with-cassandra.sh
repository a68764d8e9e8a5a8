#!/usr/bin/env bash
# Runs a command with one real Cassandra for its whole duration, then stops the node:
#
#   scripts/cassandra/with-cassandra.sh go test -count=1 ./...
#
# The command sees PARLEY_CASSANDRA_HOSTS=127.0.0.1:PORT, which internal/cassandra's
# StartForTest uses instead of starting a node of its own, so every test package of the
# run shares this one. The node is stopped when the command ends, fails or is interrupted.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }
trap 'bash "$here/cassandra.sh" stop' EXIT
start=$SECONDS
PARLEY_CASSANDRA_HOSTS="$(bash "$here/cassandra.sh" start)"
export PARLEY_CASSANDRA_HOSTS
echo "with-cassandra: Cassandra at $PARLEY_CASSANDRA_HOSTS (ready in $((SECONDS - start))s)" >&2
"$@"
