#!/usr/bin/env bash
# Every check CI runs: formatting, lints, the whole test suite.
# Installs the system packages the tests need first, when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
# End-to-end tests that drive real programs (weechat, tmux, chromium) must run here,
# not skip: the line above installed what they need.
export CHATROOM_E2E=require


cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace

# Fuzz the wire decoders for a bounded time when nightly and cargo-fuzz are
# installed (otherwise it says so and skips).
FUZZ_INSTALL=1 scripts/fuzz.sh
