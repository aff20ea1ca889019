#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan and UBSan on)
# into OUT (default build/fuzz) and runs each for FUZZ_SECONDS (default 15)
# from its corpus: OUT/corpus_<target>, the seeds of tests/fuzz/corpus and
# what earlier runs added. Prints each one's figures: executions, new
# units, and libFuzzer's coverage (cov: edges, ft: features) and corpus
# at the end. CTest runs this (test "fuzz"); scripts/fuzz for a long run:
#
#   FUZZ_SECONDS=3600 tests/fuzz/run.sh build/fuzz
#   FUZZ_TARGETS="soap guard" tests/fuzz/run.sh build/fuzz    (some only)
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
# FUZZ_TARGETS (names, space-separated) runs some of them only.
read -r -a targets <<<"${FUZZ_TARGETS:-frame guard jwt jsonw jsonr versions soap rest}"
declare -A sources=(
  [frame]="service/http/frame.c"
  [guard]="service/soap/guard.c service/core/utf8.c"
  [jwt]="service/auth/jwt.c service/core/base64.c"
  [jsonw]="service/core/jsonw.c service/core/base64.c"
  [jsonr]="service/core/jsonr.c service/core/utf8.c"
  [versions]="service/soap/versions.c service/soap/guard.c"
  [soap]="service/soap/guard.c service/soap/versions.c service/soap/nsmap.c service/core/config.c
          service/core/log.c service/core/quote.c service/core/utf8.c generated/soapC.c generated/soapServer.c"
  [rest]="service/rest/device.c service/rest/statuslog.c service/rest/subs.c service/rest/fields.c
          service/rest/reply.c service/lifecycle/rules.c service/auth/jwt.c service/core/base64.c
          service/core/err.c service/core/hex.c service/core/ids.c service/core/jarena.c service/core/jsonr.c service/core/jsonw.c service/core/log.c
          service/core/quote.c service/core/utf8.c"
)
# gSOAP's own flags (they change its context's layout) and library.
declare -A extra=(
  [soap]="-I$src/generated $(pkg-config --cflags --libs gsoap)"
)
for t in "${targets[@]}"; do
  [ -n "${sources[$t]:-}" ] || { echo "fuzz: no target $t (${!sources[*]})" >&2; exit 2; }
done

# The figures of a run from its log.
figures() {
  local runs new last
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1")
  new=$(sed -n 's/^stat::new_units_added: *//p' "$1")
  last=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$1" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' | tail -1 || true)
  echo "executed units ${runs:-?}, new units ${new:-?}${last:+, $last}"
}

status=0
for t in "${targets[@]}"; do
  files=()
  for f in ${sources[$t]}; do files+=("$src/$f"); done
  # shellcheck disable=SC2086 # extra flags are words
  "$cc" "${flags[@]}" -DFUZZ_XSD="\"$src/schemas/EntitlementOrderService.xsd\"" "$src/tests/fuzz/fuzz_$t.c" "${files[@]}" \
    -o "$out/fuzz_$t" ${extra[$t]:-} -ljansson -lcrypto -lxml2
  # A copy of the seeds: what the run finds stays in the build directory.
  mkdir -p "$out/corpus_$t"
  cp -n "$src/tests/fuzz/corpus/$t/"* "$out/corpus_$t/" 2>/dev/null || true
  if ! (cd "$out" && "./fuzz_$t" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=1024 \
        -print_final_stats=1 "corpus_$t" >"fuzz_$t.log" 2>&1); then
    echo "fuzz_$t: ${secs} s: FAILED ($(figures "$out/fuzz_$t.log"); log: $out/fuzz_$t.log)" >&2
    tail -40 "$out/fuzz_$t.log" >&2
    status=1
  else
    echo "fuzz_$t: ${secs} s: $(figures "$out/fuzz_$t.log")"
  fi
done
exit $status
