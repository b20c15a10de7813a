#!/usr/bin/env bash
# Fuzzes the wire decoders: each cargo-fuzz target in fuzz/ runs for
# FUZZ_SECONDS (default 60) when a nightly toolchain and cargo-fuzz are
# installed. Without them it says why it skipped and exits 0: the same
# properties are always checked on stable by the proptest suites
# crates/proto/tests/fuzz_json.rs and fuzz_irc.rs.
#
# A crash or a broken property fails the run; libFuzzer saves the input in
# fuzz/artifacts/TARGET/ (replay it with `cargo +nightly fuzz run TARGET FILE`).
# New interesting inputs go to fuzz/corpus/TARGET/ (not committed); the
# committed seeds are in fuzz/seeds/TARGET/.
#
#   scripts/fuzz.sh                    # 60 s per target
#   FUZZ_SECONDS=600 scripts/fuzz.sh   # longer
#   FUZZ_INSTALL=1 scripts/fuzz.sh     # install cargo-fuzz first if missing
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
targets=(json_decoder irc_decoder)

# The fuzz crate builds on stable too (libfuzzer-sys only links libFuzzer):
# keep it compiling, and its own unit tests passing, on every run.
(cd fuzz && cargo test --locked --lib --quiet)

if ! command -v rustup >/dev/null 2>&1 || ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: skipped fuzzing: no nightly toolchain (cargo fuzz needs one: rustup toolchain install nightly)"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    if [[ "${FUZZ_INSTALL:-0}" == 1 ]]; then
        cargo install cargo-fuzz --locked
    else
        echo "fuzz.sh: skipped fuzzing: cargo-fuzz is not installed (cargo install cargo-fuzz --locked, or run with FUZZ_INSTALL=1)"
        exit 0
    fi
fi

for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    echo "fuzz.sh: fuzzing $target for ${seconds}s"
    cargo +nightly fuzz run "$target" "$PWD/fuzz/corpus/$target" "$PWD/fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
done
echo "fuzz.sh: no findings in ${seconds}s per target"
