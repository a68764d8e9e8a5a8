#!/usr/bin/env bash
# cfn-lint.sh TEMPLATE...: lint CloudFormation templates with a pinned cfn-lint.
#
# cfn-lint is installed on first use into a virtualenv under .tools/ at the repository
# root (gitignored), from PyPI through pip; later runs reuse it. Needs python3 with venv.
# CFN_LINT_VERSION overrides the pinned version.
set -euo pipefail

version="${CFN_LINT_VERSION:-1.58.0}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.tools/cfn-lint-$version"

if [ "$#" -eq 0 ]; then
	echo "usage: $0 TEMPLATE..." >&2
	exit 2
fi

if [ ! -x "$venv/bin/cfn-lint" ]; then
	if ! command -v python3 >/dev/null 2>&1; then
		echo "cfn-lint.sh: python3 is required to install cfn-lint $version" >&2
		exit 1
	fi
	echo "cfn-lint.sh: installing cfn-lint $version into $venv" >&2
	rm -rf "$venv"
	if ! { python3 -m venv "$venv" &&
		"$venv/bin/pip" install --quiet --disable-pip-version-check "cfn-lint==$version"; }; then
		rm -rf "$venv" # never leave a half-built install to be reused
		echo "cfn-lint.sh: could not install cfn-lint $version (python3-venv and PyPI needed)" >&2
		exit 1
	fi
fi

exec "$venv/bin/cfn-lint" "$@"
