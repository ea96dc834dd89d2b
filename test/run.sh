#!/usr/bin/env bash
# Runs the whole test suite: installs what the integration tests need, then
# runs go test -race over the module and over deploy/ when that is a module.
#
#   test/run.sh                      every package, both modules
#   test/run.sh -run TestX ./test/   only these go test arguments, root module
#
# Needs Go and, on a machine where something is missing, root (or sudo) for
# apt-get on Debian 12. Every step is skipped when its tool is already
# installed, so a second run goes straight to the tests. Under CI=true a
# test whose server or client is missing fails instead of skipping.
set -euo pipefail

readonly VERSITYGW_MODULE=github.com/versity/versitygw
readonly VERSITYGW_VERSION=v1.8.0

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

log() {
	printf '%s run.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

die() {
	log "error: $*"
	exit 1
}

# as_root runs a command as root, through sudo when the script is not root.
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "'$*' needs root and sudo is not installed"
	fi
}

debian_installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# install_debian_packages installs the packages the tests and go test -race
# need, running apt-get update only when one is missing.
install_debian_packages() {
	local missing=()
	local pkg
	# go test -race needs cgo, so a C compiler and the C library headers.
	command -v gcc >/dev/null || missing+=(gcc libc6-dev)
	# make build is the release build the Dockerfile runs.
	command -v make >/dev/null || missing+=(make)
	for pkg in awscli python3-requests python3-boto3; do
		debian_installed "$pkg" || missing+=("$pkg")
	done
	# A node from another source (such as NodeSource) counts: Debian's npm
	# package would conflict with it.
	command -v node >/dev/null || missing+=(nodejs)
	command -v npm >/dev/null || missing+=(npm)

	if [[ ${#missing[@]} -eq 0 ]]; then
		log "Debian packages: all present"
		return
	fi
	command -v apt-get >/dev/null || die "missing ${missing[*]} and apt-get is not available to install them"
	log "Debian packages: installing ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# check_node_version warns when node is older than the version that
# @aws-sdk/client-s3 declares in its engines field.
check_node_version() {
	local major
	major=$(node -p 'process.versions.node.split(".")[0]')
	if ((major < 20)); then
		# NOTE: Debian 12's own nodejs is 18; the pinned SDK declares
		# node >= 20, so the node client tests run on an unsupported node.
		log "warning: node $(node --version) is older than the v20 that @aws-sdk/client-s3 declares"
	fi
}

# versitygw_version prints the module version a versitygw binary was built
# from, or nothing. Its own --version prints "git" for a go install build.
versitygw_version() {
	go version -m "$1" 2>/dev/null | awk -v mod="$VERSITYGW_MODULE" '$1 == "mod" && $2 == mod { print $3 }'
}

install_versitygw() {
	local bin_dir
	bin_dir=$(go env GOBIN)
	[[ -n $bin_dir ]] || bin_dir="$(go env GOPATH | cut -d: -f1)/bin"
	export PATH="$bin_dir:$PATH"

	if [[ -x $bin_dir/versitygw && $(versitygw_version "$bin_dir/versitygw") == "$VERSITYGW_VERSION" ]]; then
		log "versitygw $VERSITYGW_VERSION: present in $bin_dir"
		return
	fi
	log "versitygw $VERSITYGW_VERSION: installing into $bin_dir (about 75 s on 2 cores)"
	go install "$VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION"
}

# install_node_modules installs test/node's pinned packages from its lock
# file when node_modules is missing or older than the lock file.
install_node_modules() {
	local dir=$repo_root/test/node
	local stamp=$dir/node_modules/.package-lock.json
	if [[ -f $stamp && ! $dir/package-lock.json -nt $stamp ]]; then
		log "npm packages: present in test/node"
		return
	fi
	log "npm packages: npm ci in test/node"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

# Credentials and lookups that keep every SDK and CLI in the tests on this
# machine: static test keys, no instance metadata, no ~/.aws files.
export AWS_ACCESS_KEY_ID=s3ba-test-access-key
export AWS_SECRET_ACCESS_KEY=s3ba-test-secret-key-for-loopback-only
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL \
	AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_CONTAINER_CREDENTIALS_FULL_URI \
	AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE

# Debian's CLI and interpreter, which have the packages installed below,
# even when another aws or python3 (such as a pyenv shim) comes first on
# PATH. The exports follow the installs so that the paths exist.
export_debian_tools() {
	if [[ -x /usr/bin/aws ]]; then
		export S3BA_AWS_CLI=/usr/bin/aws
	fi
	if [[ -x /usr/bin/python3 ]]; then
		export S3BA_PYTHON=/usr/bin/python3
	fi
}

if [[ ${CI:-} == true ]]; then
	export S3BA_REQUIRE_SERVERS=1
fi

command -v go >/dev/null || die "go is not on PATH; install Go first"
log "$(go version)"

install_debian_packages
export_debian_tools
check_node_version
install_versitygw
install_node_modules

if [[ $# -gt 0 ]]; then
	log "go test -race -count=1 -timeout 25m $*"
	exec go test -race -count=1 -timeout 25m "$@"
fi

# The release binary, built exactly as the Dockerfile builds it.
log "make build (the Dockerfile's compile command)"
make build

# Both modules run even when the first fails; the exit status is the first
# failure's.
status=0
log "go test -race -count=1 -timeout 25m ./..."
go test -race -count=1 -timeout 25m ./... || status=$?

if [[ -f deploy/go.mod ]]; then
	log "go test -race -count=1 -timeout 25m ./... in deploy/"
	deploy_status=0
	(cd deploy && go test -race -count=1 -timeout 25m ./...) || deploy_status=$?
	if ((status == 0)); then
		status=$deploy_status
	fi
fi

if ((status != 0)); then
	log "tests failed (exit status $status)"
	exit "$status"
fi
log "all tests passed"
