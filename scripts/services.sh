#!/usr/bin/env bash
# Starts throwaway Redis and PostgreSQL instances on free ports for tests.
#
#   scripts/services.sh start DIR   start both under DIR, print export lines
#   scripts/services.sh stop DIR    stop both and remove DIR
#
# Nothing here touches a Redis or PostgreSQL already running on the machine.
set -euo pipefail

free_port() {
	python3 - <<'PY' 2>/dev/null || (for p in $(seq 20000 60000 | shuf | head -50); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; break; }; done)
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

pg_bin() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && { echo "$d"; return; }
	done
	command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return; }
	echo "postgresql server binaries (initdb) not found; run scripts/setup.sh" >&2
	exit 1
}

as_pg() {
	# initdb and postgres refuse to run as root.
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
	local dir=$1
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	command -v redis-server >/dev/null || { echo "redis-server not found; run scripts/setup.sh" >&2; exit 1; }

	local rport pport bin
	rport=$(free_port)
	redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
		--daemonize yes --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null

	bin=$(pg_bin)
	pport=$(free_port)
	mkdir -p "$dir/pg"
	[ "$(id -u)" = 0 ] && chown postgres "$dir/pg" && chmod 0700 "$dir/pg"
	as_pg "$bin/initdb" -D "$dir/pg/data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	as_pg "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w -t 60 \
		-o "-p $pport -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >/dev/null || { cat "$dir/pg/postgres.log" >&2; exit 1; }

	for _ in $(seq 1 50); do
		redis-cli -p "$rport" ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	redis-cli -p "$rport" ping >/dev/null || { echo "redis did not start" >&2; cat "$dir/redis.log" >&2; exit 1; }

	echo "export PAIMENG_TEST_REDIS_URL=redis://127.0.0.1:$rport/0"
	echo "export PAIMENG_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$pport/postgres?sslmode=disable"
}

stop() {
	local dir=$1
	[ -d "$dir" ] || return 0
	if [ -f "$dir/redis.pid" ]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
	if [ -d "$dir/pg/data" ]; then as_pg "$(pg_bin)/pg_ctl" -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
	rm -rf "$dir"
}

case "${1:-}" in
start) start "${2:?dir}" ;;
stop) stop "${2:?dir}" ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
