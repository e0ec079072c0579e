#!/usr/bin/env bash
# nanochat speedrun: every stage of the pipeline, in order, on this machine's CPU.
#   ./run.sh          the speedrun: runs each stage that exists into out/ (or $NANOCHAT_OUT)
#   ./run.sh test     installs what is missing, builds, runs every test
#   ./run.sh build    installs what is missing and builds the release binary
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1m== %s\033[0m\n' "$*"; }

# OpenBLAS (found by pkg-config) is the one system library the binary needs.
ensure_deps() {
    if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openblas; then return; fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing libopenblas-dev and pkg-config (apt-get)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev pkg-config >/dev/null
    else
        echo "nanochat needs OpenBLAS and pkg-config. Install them with:" >&2
        echo "    sudo apt-get install -y libopenblas-dev pkg-config     (Debian/Ubuntu)" >&2
        echo "    brew install openblas pkg-config                       (macOS)" >&2
        exit 1
    fi
}

# One release build serves the speedrun and the tests (-enable-testing lets tests use @testable import).
SWIFT_FLAGS=(-c release -Xswiftc -enable-testing)
build() {
    ensure_deps
    say "building (swift build ${SWIFT_FLAGS[*]})"
    swift build "${SWIFT_FLAGS[@]}"
}

BIN=.build/release/nanochat
OUT="${NANOCHAT_OUT:-out}"

case "${1:-}" in
test)
    ensure_deps
    say "building the binary and the tests (swift build --build-tests ${SWIFT_FLAGS[*]})"
    swift build --build-tests "${SWIFT_FLAGS[@]}"
    say "running the tests"
    swift test --skip-build --disable-swift-testing "${SWIFT_FLAGS[@]}"  # XCTest only: no empty Swift Testing run
    ;;
build)
    build
    ;;
"")
    build
    start=$(date +%s)
    say "stage 1/5: tokenizer (about 1 s): train a 4096-token BPE on data/shakespeare/train, evaluate on val"
    "$BIN" tok-train --out "$OUT" --vocab-size 4096
    "$BIN" tok-eval --out "$OUT"
    say "stage 2/5: pretraining (about 15 minutes on 2 cores): depth 4 (5.2M params), 400 steps of 16x256 tokens"
    "$BIN" base-train --out "$OUT" --depth 4 --seq-len 256 --batch-size 16 --steps 400 \
        --eval-every 100 --sample-every 200 --save-every 50
    "$BIN" base-eval --out "$OUT"
    say "stage 3/5: mid-training (about 5 minutes): 150 steps on corpus text mixed with conversations"
    "$BIN" mid-train --out "$OUT" --steps 150
    say "stage 4/5: supervised fine-tuning (about 7 minutes): 200 steps on conversations, assistant tokens only"
    "$BIN" chat-sft --out "$OUT" --steps 200
    say "stage 5/5: chat evaluation (a few minutes): each task's held-out set, after mid-training and after SFT"
    "$BIN" chat-eval --out "$OUT" --source mid
    "$BIN" chat-eval --out "$OUT" --source sft
    echo "Chat with it:  .build/release/nanochat chat      (or: .build/release/nanochat chat -p \"Who are you?\")"
    say "done in $(( $(date +%s) - start )) s; outputs are in $OUT/"
    ;;
*)
    echo "usage: ./run.sh [test|build]" >&2
    exit 2
    ;;
esac
