#!/bin/sh
# make fuzz: build each libFuzzer target with clang (+ ASan, UBSan) and run it for FUZZ_SECONDS
# (default 60) on its corpus under spec/fuzz/<target>/. New inputs found are kept in build/fuzz/.
# The JSON decoder is fuzzed once per string scanner (csrc/core_json.c): json (the fastest the
# machine has, SSE2 on x86-64), json_swar and json_bytes (forced by COHORT_JSON_NO_SSE2 and
# COHORT_JSON_NO_SWAR), all on the corpus of spec/fuzz/json. FUZZ_TARGETS picks some of them.
set -u
SECONDS_EACH=${FUZZ_SECONDS:-60}
CC=${FUZZ_CC:-clang}
TARGETS=${FUZZ_TARGETS:-errors url retry_after json json_swar json_bytes store}
mkdir -p build/fuzz
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer $(pkg-config --cflags lua5.4 libcurl sqlite3)"
LIBS="$(pkg-config --libs lua5.4 libcurl libcrypto sqlite3) -lm"
CORE="$(ls csrc/core*.c)"
status=0
# The store target starts from small real stores (512-byte pages, in rollback and WAL mode),
# made here so that no binary file lives in git.
seed_store() {
  for mode in delete wal; do
    f=build/fuzz/corpus_store/seed_$mode.sqlite
    [ -s "$f" ] && continue
    rm -f "$f"
    sqlite3 "$f" "PRAGMA page_size = 512; PRAGMA journal_mode = $mode; PRAGMA application_id = 1668245615;
      PRAGMA user_version = 1; CREATE TABLE cohort_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
      CREATE TABLE cohort_owners (owner TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, updated_at TEXT NOT NULL);
      INSERT INTO cohort_meta VALUES ('format', 'cohort store'), ('layout', '1');
      INSERT INTO cohort_owners VALUES ('journal', 1, '2026-11-23T10:15:02.123Z');
      CREATE TABLE journal (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, data TEXT NOT NULL);
      INSERT INTO journal (key, data) VALUES ('bonus:1', '{\"rows\":3}'), ('bonus:2', '{}');" >/dev/null || return 1
  done
}
for t in $TARGETS; do
  case $t in
    json_swar) src=json; defs="-DCOHORT_JSON_NO_SSE2" ;;
    json_bytes) src=json; defs="-DCOHORT_JSON_NO_SSE2 -DCOHORT_JSON_NO_SWAR" ;;
    errors|url|retry_after|json|store) src=$t; defs="" ;;
    *) echo "fuzz.sh: unknown target $t" >&2; exit 2 ;;
  esac
  $CC $FLAGS $defs -o build/fuzz/fuzz_$t spec/fuzz/fuzz_$src.c $CORE $LIBS || exit 1
  mkdir -p build/fuzz/corpus_$t
  if [ $t = store ]; then seed_store || exit 1; fi
  label=""
  case $t in json*) label=" ($(grep -a -o 'cohort-json-scanner=[a-z0-9]*' build/fuzz/fuzz_$t | head -n 1))" ;; esac
  echo "== fuzz_$t for ${SECONDS_EACH}s$label"
  # -artifact_prefix: a crashing input is kept in build/fuzz/, not in the current directory
  if build/fuzz/fuzz_$t -max_total_time="$SECONDS_EACH" -print_final_stats=1 -max_len=4096 \
      -artifact_prefix=build/fuzz/$t- build/fuzz/corpus_$t spec/fuzz/$src > build/fuzz/$t.log 2>&1; then
    grep -E "stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb" build/fuzz/$t.log | sed "s/^/  /"
    echo "  findings: none"
  else
    status=1
    echo "  FINDING: see build/fuzz/$t.log"; tail -40 build/fuzz/$t.log
  fi
done
exit $status
