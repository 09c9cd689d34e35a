#!/usr/bin/env bash
# fuzz.t - a short libFuzzer run of the HTTP parser on the seed corpus
# (the long run is `make fuzz`). Builds its own binary with clang.
. "$(dirname "$0")/../lib.sh"
plan 3
SECS=${FUZZ_TEST_SECONDS:-20}
CLANG=${CLANG:-clang}
command -v "$CLANG" >/dev/null || skip_rest "clang missing (make deps installs it)"
OUT=$BUILD/fuzz-test
mkdir -p "$OUT/corpus"
SRC=$QPS_ROOT
if "$CLANG" -std=gnu11 -g -O1 -D_GNU_SOURCE -I"$SRC/server" \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	"$SRC/tests/fuzz/fuzz_http.c" "$SRC/server/http.c" -o "$OUT/fuzz_http" 2>"$OUT/build.log"; then
	pass "fuzz target builds (clang, libFuzzer + ASan + UBSan)"
else
	fail "fuzz target builds" "$(head -5 "$OUT/build.log")"; skip_rest "no fuzz binary"
fi
# every seed alone must pass first (regression inputs)
if "$OUT/fuzz_http" -runs=0 "$SRC/tests/fuzz/corpus" >"$OUT/seeds.log" 2>&1; then
	pass "every seed input passes"
else
	fail "every seed input passes" "$(tail -5 "$OUT/seeds.log")"
fi
rm -rf "$OUT/run-corpus"; mkdir -p "$OUT/run-corpus" "$OUT/artifacts"
"$OUT/fuzz_http" -max_total_time="$SECS" -runs=50000000 -max_len=4096 -timeout=10 \
	-dict="$SRC/tests/fuzz/http.dict" -artifact_prefix="$OUT/artifacts/" -print_final_stats=1 \
	"$OUT/run-corpus" "$SRC/tests/fuzz/corpus" >"$OUT/run.log" 2>&1
rc=$?
runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$OUT/run.log" | grep -oE '[0-9]+$')
if [ "$rc" = 0 ]; then
	pass "${SECS}s fuzz run: ${runs:-?} inputs, no crash"
else
	fail "${SECS}s fuzz run: no crash" "$(grep -E 'ERROR|SUMMARY|artifact' "$OUT/run.log" | head -5)"
fi
done_testing
