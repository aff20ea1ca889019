#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan and UBSan on)
# and runs each for FUZZ_SECONDS (default 15) from its seed corpus. CTest
# runs this (test "fuzz"); for a long run:
#
#   FUZZ_SECONDS=3600 tests/fuzz/run.sh build/fuzz
#
# A crash leaves its input in OUT/crash-* and fails the run.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$src/build/fuzz}
secs=${FUZZ_SECONDS:-15}
cc=${FUZZ_CC:-clang}
command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (scripts/lib.sh installs clang)" >&2; exit 1; }
mkdir -p "$out"
flags=(-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$src/service" $(pkg-config --cflags libxml-2.0))
declare -A sources=(
  [frame]="service/http/frame.c"
  [guard]="service/soap/guard.c"
  [jwt]="service/auth/jwt.c service/core/base64.c"
  [jsonw]="service/core/jsonw.c service/core/base64.c"
  [versions]="service/soap/versions.c service/soap/guard.c"
)
status=0
for t in frame guard jwt jsonw versions; do
  files=()
  for f in ${sources[$t]}; do files+=("$src/$f"); done
  "$cc" "${flags[@]}" -DFUZZ_XSD="\"$src/schemas/EntitlementOrderService.xsd\"" "$src/tests/fuzz/fuzz_$t.c" "${files[@]}" -o "$out/fuzz_$t" -ljansson -lcrypto -lxml2
  # A copy of the seeds: what the run finds stays in the build directory.
  mkdir -p "$out/corpus_$t"
  cp -n "$src/tests/fuzz/corpus/$t/"* "$out/corpus_$t/" 2>/dev/null || true
  echo "fuzz_$t: ${secs} s"
  if ! (cd "$out" && "./fuzz_$t" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=1024 \
        -print_final_stats=1 "corpus_$t" >"fuzz_$t.log" 2>&1); then
    echo "fuzz_$t FAILED:" >&2
    tail -40 "$out/fuzz_$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$out/fuzz_$t.log" | tr '\n' ' '
    echo
  fi
done
exit $status
