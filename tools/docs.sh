#!/bin/sh
# Generate the HTML API reference from the LDoc comments of lua/cohort into docs/api/
# (configuration: config.ld at the repository root). Called by `make docs`, which installs
# Debian's lua-ldoc, lua-markdown and lua5.1 first. Fails if LDoc fails, if docs/api/index.html
# is missing, or if LDoc prints anything but its two progress lines: every warning (an
# undocumented or misnamed argument, a file with no items, a markdown formatter not found)
# fails the target, so the reference cannot rot.
#
# Debian's /usr/bin/ldoc declares Lua 5.1/5.2 only (through lua-any), and Debian's lua-markdown
# (the formatter config.ld's `format = "markdown"` asks for) is a Lua 5.1 module, so LDoc runs
# under lua5.1 when it is installed. Without it, LDoc 1.4.6 runs under Lua 5.4 (with penlight's
# 5.4 modules), but markdown.lua cannot load there and LDoc falls back to plain text: that
# line counts as a warning. The full LDoc output goes to build/ldoc.log; VERBOSE=1 shows it.
set -u
cd "$(dirname "$0")/.." || exit 1
LOG=build/ldoc.log
mkdir -p build
rm -rf docs/api

ldoc_bin=$(command -v ldoc || true)
if [ -z "$ldoc_bin" ]; then
  echo "docs.sh: ldoc not found (install Debian's lua-ldoc: sh tools/deps.sh lua-ldoc)" >&2
  exit 1
fi

if command -v lua5.1 >/dev/null 2>&1; then
  run_ldoc() { lua5.1 "$ldoc_bin" "$@"; }
else
  LUA=${LUA:-lua5.4}
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

# The Lua environment of the build (LUA_PATH/LUA_CPATH from make's RUN_ENV) is for cohort, not
# for LDoc: a 5.4 path would hide the 5.1 modules LDoc needs.
(unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4; run_ldoc -c config.ld .) >"$LOG" 2>&1
status=$?
if [ "${VERBOSE:-0}" = 1 ]; then cat "$LOG" >&2; fi
if [ $status -ne 0 ] || [ ! -f docs/api/index.html ]; then
  echo "docs.sh: LDoc failed (exit $status); its last lines (all of it in $LOG):" >&2
  tail -n 5 "$LOG" >&2
  exit 1
fi
warnings=$(grep -v -e '^reading configuration from ' -e '^output written to ' -e '^[[:space:]]*$' "$LOG")
if [ -n "$warnings" ]; then
  echo "docs.sh: LDoc printed $(printf '%s\n' "$warnings" | wc -l) warning(s) (all of it in $LOG):" >&2
  printf '%s\n' "$warnings" | sed "s#$(pwd)/##" >&2
  exit 1
fi
echo "API reference: docs/api/index.html (0 LDoc warnings)"
