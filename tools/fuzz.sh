#!/bin/sh
# make fuzz: build each libFuzzer target with clang (+ ASan, UBSan) and run it for FUZZ_SECONDS
# (default 60) on its corpus under spec/fuzz/<target>/. New inputs found are kept in build/fuzz/.
set -u
SECONDS_EACH=${FUZZ_SECONDS:-60}
CC=${FUZZ_CC:-clang}
mkdir -p build/fuzz
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer $(pkg-config --cflags lua5.4 libcurl sqlite3)"
LIBS="$(pkg-config --libs lua5.4 libcurl libcrypto sqlite3) -lm"
CORE="$(ls csrc/core*.c)"
status=0
for t in errors url retry_after json; do
  $CC $FLAGS -o build/fuzz/fuzz_$t spec/fuzz/fuzz_$t.c $CORE $LIBS || exit 1
  mkdir -p build/fuzz/corpus_$t
  echo "== fuzz_$t for ${SECONDS_EACH}s"
  if build/fuzz/fuzz_$t -max_total_time="$SECONDS_EACH" -print_final_stats=1 -max_len=4096 \
      build/fuzz/corpus_$t spec/fuzz/$t > build/fuzz/$t.log 2>&1; then
    grep -E "stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb" build/fuzz/$t.log | sed "s/^/  /"
    echo "  findings: none"
  else
    status=1
    echo "  FINDING: see build/fuzz/$t.log"; tail -40 build/fuzz/$t.log
  fi
done
exit $status
