#!/usr/bin/env bash
# Measures the submit path (validate + hold credits + job row + dispatch to
# asynq) on PostgreSQL beside raw asynq enqueues of the same payload size,
# in one run on throwaway Redis and PostgreSQL, and prints the ratio.
#   bench/submit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
svc=$(mktemp -d /tmp/paimeng-bench-XXXXXX)
chmod 0755 "$svc"
trap 'scripts/services.sh stop "$svc"' EXIT
eval "$(scripts/services.sh start "$svc")"
out=$(go test -run '^$' -bench 'Submit|RawAsynq' -benchtime "${BENCHTIME:-3s}" ./bench/ | tee /dev/stderr)
ns() { awk -v n="$1" '$1 ~ "^"n"(-[0-9]+)?$" {print $3}' <<<"$out"; }
awk -v s="$(ns BenchmarkSubmitPostgres)" -v h="$(ns BenchmarkSubmitReservePostgres)" -v r="$(ns BenchmarkRawAsynqEnqueue)" 'BEGIN {
	if (s == "" || h == "" || r == "") { print "missing benchmark results" > "/dev/stderr"; exit 1 }
	printf "submit + dispatch (PostgreSQL + asynq): %8.0f jobs/s   (%.0fx the time of a raw enqueue)\n", 1e9/s, s/r
	printf "submit, reserve only (PostgreSQL):      %8.0f jobs/s   (%.0fx)\n", 1e9/h, h/r
	printf "raw asynq enqueue:                      %8.0f tasks/s\n", 1e9/r
}'
