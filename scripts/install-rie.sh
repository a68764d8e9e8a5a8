#!/usr/bin/env bash
# install-rie.sh: install the AWS Lambda Runtime Interface Emulator (aws-lambda-rie) into
# .tools/bin/ at the repository root (gitignored), for `parley local --lambda-rie` and its
# tests. Prints the binary's path.
#
# It is built from source with `go install` through the Go module proxy, which serves the
# emulator's module only under a pseudo-version (its v1.x tags are not served). A binary
# already there at that version is kept, so the script is cheap to call again. It installs
# into a temporary directory and renames the binary into place, so that test binaries
# calling it at the same time never see half a file. RIE_VERSION overrides the version.
set -euo pipefail

module="github.com/aws/aws-lambda-runtime-interface-emulator"
version="${RIE_VERSION:-v0.0.0-20261030222936-bef5c4ba774d}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"
rie="$bin/aws-lambda-rie"

installed() {
	[ -x "$rie" ] && go version -m "$rie" 2>/dev/null | grep -q "^[[:space:]]*mod[[:space:]]*${module}[[:space:]]*${version}[[:space:]]"
}

if ! installed; then
	if ! command -v go >/dev/null 2>&1; then
		echo "install-rie.sh: go is required to install aws-lambda-rie $version" >&2
		exit 1
	fi
	mkdir -p "$bin"
	tmp="$(mktemp -d "$bin/.aws-lambda-rie.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	# The emulator runs on Linux only; it is built for this machine (CGO off: a static binary).
	CGO_ENABLED=0 GOBIN="$tmp" go install "$module/cmd/aws-lambda-rie@$version"
	mv -f "$tmp/aws-lambda-rie" "$rie"
	installed || { echo "install-rie.sh: $rie is not $module@$version after go install" >&2; exit 1; }
fi
echo "$rie"
