#!/usr/bin/env bash
# Measures S3 listener throughput: a single-stream 1 GiB PutObject and
# GetObject with aws-sdk-go-v2, through the agent's S3 listener and straight
# to versitygw, alternating the order over two rounds, plus the agent's peak
# RSS. The agent sends its calls to versitygw directly.
#
#   test/bench/listener.sh                          1 GiB, 2 rounds
#   test/bench/listener.sh -listener-size 256MiB    any test/load flags
#
# versitygw's posix backend writes the objects under $TMPDIR (default /tmp);
# each object is deleted after its round and the directory at exit. Needs
# twice the object size free there.
set -euo pipefail

tmp=${TMPDIR:-/tmp}
need_kib=$((2 * 1024 * 1024 + 512 * 1024))
free_kib=$(df -Pk "$tmp" | awk 'NR == 2 { print $4 }')
if ((free_kib < need_kib)); then
	echo "listener.sh: $tmp has $((free_kib / 1024)) MiB free; a 1 GiB run needs about $((need_kib / 1024)) MiB" >&2
	exit 1
fi

exec "$(dirname "${BASH_SOURCE[0]}")/load.sh" -scenarios listener "$@"
