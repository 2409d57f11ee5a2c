#!/bin/sh
# make bench: cohort side by side with raw libcurl, Python requests and LuaSocket (issue #8),
# the sandbox as a server (issue #14: bench/server.lua, with wrk and build/flood), and the bulk
# jobs at 150 ms of latency against their bound (issue #13: bench/latency.lua).
#
# Installs what it needs from Debian, writes the canned JSON and compiles the C programs into a
# temporary directory, starts nginx there on a free loopback port (its own config, prefix, pid
# and logs), runs bench/driver.lua (every case several times; prints the table and writes
# docs/benchmarks.md), then stops nginx and removes the directory.
#
# Environment: LUA (default lua5.4), BENCH_REPEATS (default 5), BENCH_OUT (default
# docs/benchmarks.md), BENCH_PIN=0 to leave the processes unpinned, BENCH_WRK_SECONDS (case 5),
# BENCH_LATENCY_MS and BENCH_SEQ_SAMPLE (case 6). `make bench` sets LUA_PATH,
# LUA_CPATH and PATH for the build tree.
set -eu
cd "$(dirname "$0")/.."
LUA=${LUA:-lua5.4}
export LUA
# Debian's Python, the one python3-requests installs into (a pyenv or venv python3 may come first).
if [ -z "${PYTHON:-}" ]; then
  if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
export PYTHON

sh tools/deps.sh nginx-light python3-requests lua-socket lua-cjson wrk

T=$(mktemp -d "${TMPDIR:-/tmp}/cohort-bench.XXXXXX")
NGINX_PID=""
cleanup() {
  if [ -n "$NGINX_PID" ]; then
    kill "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
  fi
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# nginx's workers may run as nobody: the canned files must be readable by all.
chmod 755 "$T"

echo "bench: canned JSON and C programs in $T" >&2
"$LUA" bench/gen_data.lua "$T" 10000 100000
# -DWITH_LUA: the programs can also decode every body with lua-cjson (the "+ cjson" rows)
CURL_FLAGS="-DWITH_LUA $(pkg-config --cflags --libs libcurl lua5.4)"
# shellcheck disable=SC2086
cc -O2 -o "$T/raw_easy" bench/raw_easy.c $CURL_FLAGS
# shellcheck disable=SC2086
cc -O2 -o "$T/raw_multi" bench/raw_multi.c $CURL_FLAGS

mkdir -p "$T/www" "$T/logs"
cp "$T/submission.json" "$T/list_10000.json" "$T/www/"
chmod 755 "$T/www"
chmod 644 "$T/www/"*

PORT=$("$LUA" -e 'local s = assert(require("socket").bind("127.0.0.1", 0))
  local _, port = s:getsockname(); s:close(); print(port)')

cat > "$T/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $T/nginx.pid;
error_log $T/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $T/tmp_body;
  proxy_temp_path $T/tmp_proxy;
  fastcgi_temp_path $T/tmp_fastcgi;
  uwsgi_temp_path $T/tmp_uwsgi;
  scgi_temp_path $T/tmp_scgi;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  default_type application/json;
  server {
    listen 127.0.0.1:$PORT;
    root $T/www;
    location ~ "^/api/v1/submissions/[0-9a-f]{24}/\$" { try_files /submission.json =404; }
    location = /api/v1/submissions/ { try_files /list_10000.json =404; }
    location / { return 404; }
  }
}
CONF

# Two CPUs or more: nginx on the last one, each client on the first, so they never compete.
SERVER_PIN="" CLIENT_PIN=""
NCPU=$(nproc 2>/dev/null || echo 1)
if [ "${BENCH_PIN:-1}" != 0 ] && [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
  SERVER_PIN="taskset -c $((NCPU - 1))"
  CLIENT_PIN="taskset -c 0"
fi

# shellcheck disable=SC2086
$SERVER_PIN nginx -p "$T" -c "$T/nginx.conf" -e "$T/logs/error.log" &
NGINX_PID=$!
i=0
until "$LUA" -e "assert(require('socket').tcp():connect('127.0.0.1', $PORT))" 2>/dev/null; do
  i=$((i + 1))
  if [ "$i" -ge 100 ] || ! kill -0 "$NGINX_PID" 2>/dev/null; then
    echo "bench: nginx did not start:" >&2
    cat "$T/logs/error.log" >&2 || true
    exit 1
  fi
  sleep 0.05
done
echo "bench: nginx (pid $NGINX_PID) on 127.0.0.1:$PORT" >&2

# case 5 pins the sandbox where nginx is
SERVER_CPU=""
if [ -n "$SERVER_PIN" ]; then SERVER_CPU=$((NCPU - 1)); fi
BENCH_DIR="$T" BENCH_URL="http://127.0.0.1:$PORT" BENCH_CLIENT="$CLIENT_PIN" BENCH_SERVER_CPU="$SERVER_CPU" \
  "$LUA" bench/driver.lua
