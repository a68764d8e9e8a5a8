#!/usr/bin/env bash
# localstack.sh COMMAND [CDK ARGS...]: run LocalStack and deploy Parley's stack to it.
#
#   up             start LocalStack (localstack/compose.yaml; needs Docker and LOCALSTACK_AUTH_TOKEN)
#   down           stop it and delete its state
#   deploy         the full stack with cdklocal (WebSocket API: needs a LocalStack plan with API Gateway v2)
#   hybrid         free services only: DynamoDB tables, Streams, the fan-out Lambda and its mappings;
#                  then run `parley local --dynamodb-endpoint http://localhost:4566 --external-fanout` for the gateway
#   destroy        delete the stack (either variant)
#   check-compose  parse compose.yaml (no Docker needed)
#
# Environment: CDKLOCAL (default node_modules/.bin/cdklocal), STAGE (default local),
# PARLEY_ADDR (the address `parley local` listens on in the hybrid; default 172.17.0.1:8080,
# Docker's bridge, which the Lambda containers reach as host.docker.internal).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
compose_file="$here/compose.yaml"
cdklocal="${CDKLOCAL:-$root/node_modules/.bin/cdklocal}"
stage="${STAGE:-local}"
parley_addr="${PARLEY_ADDR:-172.17.0.1:8080}"
parley_port="${parley_addr##*:}"
endpoint="http://localhost:4566"

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_REGION="$AWS_DEFAULT_REGION"
export CDK_DISABLE_CLI_TELEMETRY=true

die() {
	echo "localstack.sh: $*" >&2
	exit 1
}

need_docker() {
	command -v docker >/dev/null 2>&1 || die "Docker is required to run LocalStack (no docker command found)"
}

need_cdklocal() {
	[ -x "$cdklocal" ] || die "cdklocal not found at $cdklocal: run 'npm install' at the repository root"
}

# wait_ready polls LocalStack's health endpoint until DynamoDB is available (2 minutes at most).
wait_ready() {
	local i
	for i in $(seq 1 60); do
		if curl -fsS "$endpoint/_localstack/health" 2>/dev/null | grep -q '"dynamodb": *"\(available\|running\)"'; then
			return 0
		fi
		if [ "$i" -eq 1 ]; then
			echo "waiting for LocalStack at $endpoint ..." >&2
		fi
		sleep 2
	done
	die "LocalStack did not become ready at $endpoint (see: docker compose -f $compose_file logs)"
}

# cdk runs cdklocal in infra/ against LocalStack, bootstrapping the environment first.
cdk() {
	need_cdklocal
	wait_ready
	(
		cd "$root/infra"
		"$cdklocal" bootstrap --no-notices "aws://000000000000/$AWS_DEFAULT_REGION" >/dev/null
		"$cdklocal" --no-notices "$@"
	)
}

cmd="${1:-}"
[ -n "$cmd" ] || die "usage: $0 up|down|deploy|hybrid|destroy|check-compose [CDK ARGS...]"
shift

case "$cmd" in
up)
	need_docker
	[ -n "${LOCALSTACK_AUTH_TOKEN:-}" ] || die "LOCALSTACK_AUTH_TOKEN is not set: LocalStack's image no longer starts without one (free account, Auth Tokens page)"
	docker compose -f "$compose_file" up -d
	wait_ready
	echo "LocalStack is up at $endpoint"
	;;
down)
	need_docker
	docker compose -f "$compose_file" down -v
	;;
deploy)
	cdk deploy --require-approval never -c target=localstack -c stage="$stage" \
		--outputs-file cdk.out/localstack-outputs.json "$@"
	echo "Outputs: infra/cdk.out/localstack-outputs.json"
	;;
hybrid)
	cdk deploy --require-approval never -c target=localstack-hybrid -c stage="$stage" \
		-c managementEndpoint="http://host.docker.internal:$parley_port" \
		--outputs-file cdk.out/localstack-outputs.json "$@"
	cat <<MSG
LocalStack now runs the parley-* tables, their streams and the fan-out Lambda.
Serve the WebSocket gateway and the Management API against LocalStack's DynamoDB:

  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=$AWS_REGION \\
    PARLEY_JWT_SECRET=dev-secret-at-least-16-bytes go run ./cmd/parley local \\
    --dynamodb-endpoint $endpoint --external-fanout --addr $parley_addr \\
    --allow-remote --allowed-hosts host.docker.internal

then: PARLEY_JWT_SECRET=dev-secret-at-least-16-bytes go run ./cmd/parley chat --url ws://$parley_addr/ws --user alice
MSG
	;;
destroy)
	cdk destroy --force -c stage="$stage" "$@"
	;;
check-compose)
	py=python3
	if ! python3 -c 'import yaml' 2>/dev/null; then
		# cfn-lint depends on PyYAML: reuse the project's pinned install.
		"$root/scripts/cfn-lint.sh" --version >/dev/null
		py="$root/.tools/cfn-lint-${CFN_LINT_VERSION:-1.58.0}/bin/python"
	fi
	"$py" - "$compose_file" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
svc = doc["services"]["localstack"]
image = svc["image"]
assert ":" in image and not image.endswith(":latest"), f"image {image} is not pinned"
env = svc["environment"]
assert "LOCALSTACK_AUTH_TOKEN" in env, "LOCALSTACK_AUTH_TOKEN is not passed"
print(f"compose.yaml: ok ({image})")
PY
	;;
*)
	die "unknown command $cmd (up, down, deploy, hybrid, destroy, check-compose)"
	;;
esac
