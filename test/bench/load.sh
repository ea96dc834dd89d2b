#!/usr/bin/env bash
# Runs the agent's own load benchmark (test/load) against versitygw on
# 127.0.0.1: hot key, unique keys and fan-out, each with batching on and off
# and straight to versitygw as the baseline.
#
#   test/bench/load.sh                              every default scenario (~5 min on 2 cores)
#   test/bench/load.sh -scenarios hot -duration 5s  any test/load flags (see -h)
#
# Builds the agent and the load tool into $BENCH_DIR (default
# /tmp/s3ba-bench), installs versitygw v1.8.0 with go install when it is
# missing, and writes the results as markdown to stdout and as JSON to
# $BENCH_DIR/load-<UTC stamp>.json. Needs Go; talks only to 127.0.0.1.
set -euo pipefail

readonly VERSITYGW_MODULE=github.com/versity/versitygw
readonly VERSITYGW_VERSION=v1.8.0

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench_dir=${BENCH_DIR:-/tmp/s3ba-bench}
mkdir -p "$bench_dir"

log() {
	printf '%s %s: %s\n' "$(date +%H:%M:%S)" "$(basename "$0")" "$*" >&2
}

# install_versitygw puts versitygw $VERSITYGW_VERSION on PATH, building it
# with go install unless the binary in GOBIN already is that version.
install_versitygw() {
	local bin_dir
	bin_dir=$(go env GOBIN)
	[[ -n $bin_dir ]] || bin_dir="$(go env GOPATH | cut -d: -f1)/bin"
	export PATH="$bin_dir:$PATH"
	local version
	version=$(go version -m "$bin_dir/versitygw" 2>/dev/null |
		awk -v mod="$VERSITYGW_MODULE" '$1 == "mod" && $2 == mod { print $3 }')
	if [[ $version == "$VERSITYGW_VERSION" ]]; then
		return
	fi
	log "installing versitygw $VERSITYGW_VERSION into $bin_dir (about 75 s on 2 cores)"
	go install "$VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION"
}

# Static credentials for the loopback servers only; no instance metadata
# lookups and no ~/.aws files.
export AWS_ACCESS_KEY_ID=s3ba-load-access-key
export AWS_SECRET_ACCESS_KEY=s3ba-load-secret-key-for-loopback-only
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN

command -v go >/dev/null || { log "error: go is not on PATH"; exit 1; }
install_versitygw

cd "$repo_root"
log "building the agent and the load tool into $bench_dir"
go build -o "$bench_dir/s3-batching-agent" ./cmd/s3-batching-agent
go build -o "$bench_dir/load" ./test/load

stamp=$(date -u +%Y%m%dT%H%M%SZ)
json=$bench_dir/load-$stamp.json
"$bench_dir/load" \
	-agent "$bench_dir/s3-batching-agent" \
	-access-key "$AWS_ACCESS_KEY_ID" \
	-secret-key "$AWS_SECRET_ACCESS_KEY" \
	-json "$json" \
	"$@"
log "results: $json"
