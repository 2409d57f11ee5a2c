#!/bin/sh
# Generate the HTML API reference from the LDoc comments of lua/cohort into docs/api/
# (configuration: config.ld at the repository root). Called by `make docs`, which installs
# Debian's lua-ldoc first. Exits non-zero if LDoc fails or docs/api/index.html is missing.
#
# Debian's /usr/bin/ldoc declares Lua 5.1/5.2 only (through lua-any); when neither is installed
# it is run with Lua 5.4 instead (LDoc 1.4.6 works with 5.4, with penlight's 5.4 modules), so no
# second Lua is needed. The full LDoc output goes to build/ldoc.log; VERBOSE=1 shows it all.
set -u
cd "$(dirname "$0")/.." || exit 1
LUA=${LUA:-lua5.4}
LOG=build/ldoc.log
mkdir -p build
rm -rf docs/api

ldoc_bin=$(command -v ldoc || true)
if [ -z "$ldoc_bin" ]; then
  echo "docs.sh: ldoc not found (install Debian's lua-ldoc: sh tools/deps.sh lua-ldoc)" >&2
  exit 1
fi

if ldoc -h >/dev/null 2>&1; then
  run_ldoc() { ldoc "$@"; }
else
  # find the directory holding LDoc's modules (ldoc/*.lua) for the Lua we run it with
  moddir=""
  for d in /usr/local/share/lua/5.4 /usr/share/lua/5.4 /usr/share/lua/5.1 /usr/share/lua/5.2 \
           /usr/local/share/lua/5.1; do
    if [ -f "$d/ldoc/doc.lua" ]; then moddir=$d; break; fi
  done
  if [ -z "$moddir" ]; then
    echo "docs.sh: LDoc's modules (ldoc/doc.lua) not found" >&2
    exit 1
  fi
  run_ldoc() {
    LUA_PATH="/usr/local/share/lua/5.4/?.lua;/usr/local/share/lua/5.4/?/init.lua;/usr/share/lua/5.4/?.lua;/usr/share/lua/5.4/?/init.lua;$moddir/?.lua;$moddir/?/init.lua" \
      "$LUA" "$ldoc_bin" "$@"
  }
fi

run_ldoc -c config.ld . >"$LOG" 2>&1
status=$?
if [ "${VERBOSE:-0}" = 1 ]; then cat "$LOG" >&2; fi
if [ $status -ne 0 ] || [ ! -f docs/api/index.html ]; then
  echo "docs.sh: LDoc failed (exit $status); its last lines (all of it in $LOG):" >&2
  tail -n 5 "$LOG" >&2
  exit 1
fi
echo "API reference: docs/api/index.html ($(grep -c 'formal argument\|warning' "$LOG" || true) LDoc warnings in $LOG)"
