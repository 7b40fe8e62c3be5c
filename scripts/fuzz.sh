#!/usr/bin/env bash
# Fuzzes the response/usage parser and the price-map loader for a bounded time per target.
#
#   scripts/fuzz.sh            # 120 s per target
#   scripts/fuzz.sh 600        # 600 s per target
#
# With a nightly toolchain: cargo-fuzz (libFuzzer; installed if missing), new inputs kept in
# fuzz/corpus/<target>, crashes in fuzz/artifacts/<target>. Without one: the same checks on
# mutated seeds, on stable (`random_inputs_for_a_bounded_time` in fuzz/src/lib.rs).
# Not in CI: it is slow by design.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-120}"

have_nightly() { rustup toolchain list 2>/dev/null | grep -q '^nightly'; }
if ! have_nightly; then
    rustup toolchain install nightly --profile minimal || true
fi

if have_nightly; then
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
    for target in response catalog; do
        mkdir -p "fuzz/corpus/$target"
        # -s none: the core is safe Rust, so a sanitizer adds cost, not findings; -a keeps
        # debug assertions and overflow checks on.
        cargo +nightly fuzz run -s none -a "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" \
            -- -max_total_time="$secs" -max_len=4096 -dict=fuzz/json.dict -print_final_stats=1
    done
    # Every input found so far still passes (also what a plain `cargo test` replays).
    cargo test --manifest-path fuzz/Cargo.toml -q
else
    echo "no nightly toolchain: running the stable random-input loop instead" >&2
    FUZZ_SECONDS="$secs" cargo test --manifest-path fuzz/Cargo.toml --release -q -- \
        --ignored --nocapture
fi
