#!/bin/sh
# make check: the whole spec suite under valgrind memcheck, then against an AddressSanitizer +
# UndefinedBehaviorSanitizer build of the core and the sandbox; then the JSON specs against an
# ASan build of each of the JSON decoder's other scanners. Exits non-zero on any finding.
set -u
LUA=${LUA:-lua5.4}
ROOT=$(pwd)
status=0
export LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;$ROOT/?.lua;;"

echo "== valgrind memcheck: the spec suite (the Lua process running the core)"
# The sandbox runs under valgrind too: every specs' sandbox is started through this wrapper.
cat > build/sandbox-valgrind <<WRAP
#!/bin/sh
exec valgrind -q --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite \
  --log-file=$ROOT/build/valgrind-sandbox.%p.log $ROOT/build/cohort-sandbox "\$@"
WRAP
chmod +x build/sandbox-valgrind
rm -f build/valgrind-*.log
LUA_CPATH="$ROOT/build/?.so;;" PATH="$ROOT/build:$ROOT/bin:$PATH" COHORT_SANDBOX="$ROOT/build/sandbox-valgrind" \
  COHORT_SLOW=1 valgrind -q --error-exitcode=98 --leak-check=full --errors-for-leak-kinds=definite \
  --log-file="$ROOT/build/valgrind-specs.log" "$LUA" tools/busted.lua ${BUSTED_ARGS:-} || status=1
for log in build/valgrind-*.log; do
  if [ -s "$log" ]; then echo "valgrind findings in $log:"; head -60 "$log"; status=1; fi
done
[ $status -eq 0 ] && echo "valgrind: no errors, nothing definitely lost"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
ASAN_CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
make -s BUILD=build-asan CFLAGS="$ASAN_CFLAGS" build || exit 1
ASAN_LIBS="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
rm -f build-asan/asan.*
# LD_PRELOAD puts the sanitizer runtimes under the (uninstrumented) Lua interpreter. --cpath:
# .busted's cpath (build/?.so) comes first in package.cpath otherwise, and the plain core loads.
LD_PRELOAD="$ASAN_LIBS" ASAN_OPTIONS="detect_leaks=1:log_path=$ROOT/build-asan/asan:exitcode=96" \
  LSAN_OPTIONS="use_tls=0:suppressions=$ROOT/tools/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="print_stacktrace=1:log_path=$ROOT/build-asan/asan" \
  LUA_CPATH="$ROOT/build-asan/?.so;;" PATH="$ROOT/build-asan:$ROOT/bin:$PATH" COHORT_SLOW=1 \
  "$LUA" tools/busted.lua --cpath="$ROOT/build-asan/?.so" ${BUSTED_ARGS:-} || status=1
# LeakSanitizer runs with use_tls=0: gcc 12's LSan crashes ("Tracer caught signal 11", a
# dynamic-TLS block at a bad address) at the exit of a process that loaded cohort/core.so
# (libcurl, OpenSSL, libsqlite3) and made threads; without TLS scanning, a pointer held only in
# thread-local storage would show as a leak — the check can only get stricter, not miss one.
# A report counts when its stack touches cohort's own code (the instrumented core, sandbox or
# hostile test server);
# reports about the system programs the specs run are listed but do not fail the check.
found=0
for log in build-asan/asan.*; do
  [ -f "$log" ] || continue
  if grep -q -E "csrc/|cohort/core\.so|cohort-sandbox|spec/support/hostile" "$log"; then
    echo "sanitizer finding in cohort's code ($log):"; head -60 "$log"; found=1
  else
    echo "(a report about another program, not cohort: $(grep -m1 -o '(/[^+)]*' "$log" | head -1 | tr -d '(') — $log)"
  fi
done
if [ $found -eq 1 ]; then status=1; else echo "sanitizers: no findings in cohort's code"; fi

# The JSON decoder has three string scanners (csrc/core_json.c): SSE2, 8 bytes at a time
# (SWAR) and byte by byte; a build uses the fastest its target has, so the suite above tests
# one. Each other one gets its own ASan + UBSan build of the core (COHORT_JSON_NO_SSE2,
# COHORT_JSON_NO_SWAR), checked to hold the scanner asked for, and the JSON specs run on it.
echo "== the JSON decoder's scanners under ASan + UBSan (spec/core_json_spec.lua)"
echo "build-asan: $(grep -a -o 'cohort-json-scanner=[a-z0-9]*' build-asan/cohort/core.so || echo '(no scanner name)')"
for scan in swar bytes; do
  case $scan in
    swar) defs="-DCOHORT_JSON_NO_SSE2" ;;
    bytes) defs="-DCOHORT_JSON_NO_SSE2 -DCOHORT_JSON_NO_SWAR" ;;
  esac
  dir=build-asan-json-$scan
  rm -rf "$dir"   # make would keep a core built with other flags
  make -s BUILD="$dir" CFLAGS="$ASAN_CFLAGS $defs" "$dir/cohort/core.so" || exit 1
  if ! grep -q -a "cohort-json-scanner=$scan" "$dir/cohort/core.so"; then
    echo "$dir: the core does not hold the $scan scanner ($defs ignored?)"; status=1; continue
  fi
  LD_PRELOAD="$ASAN_LIBS" ASAN_OPTIONS="detect_leaks=1:log_path=$ROOT/$dir/asan:exitcode=96" \
    LSAN_OPTIONS="use_tls=0:suppressions=$ROOT/tools/lsan.supp:print_suppressions=0" \
    UBSAN_OPTIONS="print_stacktrace=1:log_path=$ROOT/$dir/asan" \
    LUA_CPATH="$ROOT/$dir/?.so;;" "$LUA" tools/busted.lua --cpath="$ROOT/$dir/?.so" \
    spec/core_json_spec.lua >"$dir/specs.log" 2>&1
  rc=$?
  echo "$dir (cohort-json-scanner=$scan): $(tail -n 1 "$dir/specs.log")"
  if [ $rc -ne 0 ]; then tail -n 40 "$dir/specs.log"; status=1; fi
  for log in "$dir"/asan.*; do
    [ -f "$log" ] || continue
    echo "sanitizer finding ($log):"; head -60 "$log"; status=1
  done
done
exit $status
