#!/usr/bin/env bash
# nanochat speedrun: every stage of the pipeline, in order, on this machine's CPU.
#   ./run.sh [quick|default|large] [--preference] [--lora] [--reasoning] [--fresh] [--out DIR] [--corpus DIR|FILE.jsonl]
#                     the speedrun (default preset: about 17 minutes on 2 cores) into out/ (or $NANOCHAT_OUT);
#                     a stage whose output is there is skipped, an interrupted one resumes (--fresh: redo all);
#                     --preference: then preference tuning (pairs, reward model, DPO, best-of-N; README)
#                     --lora: then SFT as a LoRA adapter on the frozen mid model, evaluated and merged
#                     --reasoning: then DeepSeek-R1's routes: majority votes, terse SFT, RL from mid, a distilled student
#   ./run.sh ladder [quick] [--seeds "1 2"] [--out DIR]
#                     the ablation ladder: a short pretraining per rung (nanochat's model, then one modern piece
#                     off at a time), two seeds each, and a table of val bpb (about 40 minutes; quick: a minute)
#   ./run.sh test     installs what is missing, builds, runs every test, then `quick` end to end
#   ./run.sh build    installs what is missing and builds the release binary
#   ./run.sh help     this text and the list of stages (nanochat stages)
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1m== %s\033[0m\n' "$*"; }
die() { echo "run.sh: $*" >&2; exit 2; }

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

# Presets: every stage's size. Times are measured on the 2-core development machine (README).
preset() {
    case "$1" in
    quick)  # every stage with tiny settings: proves the pipeline works, in under a minute after the build
        EXPECT="under a minute"; VOCAB=1024
        BASE=(--depth 2 --seq-len 128 --batch-size 8 --steps 30 --eval-every 15 --eval-tokens 4096 --sample-every 30 --save-every 10)
        MID=(--steps 10 --batch-size 8 --per-task 100 --eval-every 10 --save-every 5)
        SFT=(--steps 10 --batch-size 8 --per-task 100 --eval-every 10 --save-every 5)
        RL=(--steps 3 --prompts 2 --samples 4 --eval-every 3 --eval-count 5 --save-every 1)
        DISTILL=(--steps 3 --prompts 2 --samples 2 --eval-every 3 --eval-count 3 --save-every 1)
        EVAL=(--count 10 --max-tokens 48); PASSK=(--pass-k 2); ARITH=(--count 20)
        PAIRS=(--prompts 4 --samples 4 --max-tokens 32); PAIRS_OTHER=(--prompts 2 --samples 4 --max-tokens 32); PAIRS_TEST=(--prompts 2 --samples 4 --max-tokens 32)
        REWARD=(--steps 2 --batch 2 --eval-every 2); DPO=(--steps 2 --batch 2 --eval-every 2 --pairs data/chat/preferences-train.jsonl); BESTOF=(--count 4 --best-of 2 --max-tokens 32)
        LORA=(--steps 6 --batch-size 8 --per-task 100 --eval-every 6 --save-every 3)
        VOTES_ARITH=(--count 6 --votes 4 --max-tokens 48); VOTES_OTHER=(--count 4 --votes 4 --max-tokens 48)
        RLZERO=(--format-reward 0.2); STUDENT_BASE=("${BASE[@]}" --depth 1)
        STUDENT_OFF=(--steps 3 --prompts 2 --samples 2 --eval-every 3 --eval-count 3 --save-every 1)
        STUDENT_ON=(--steps 3 --prompts 2 --samples 2 --eval-every 3 --eval-count 3 --save-every 1)
        STUDENT_SFT_ON=(--steps 3 --prompts 2 --samples 2 --eval-every 3 --eval-count 3 --save-every 1)
        DISK_MB=100 ;;
    default)  # every stage with its own defaults (Sources/nanochat/Train/Stage.swift and the stages' options)
        EXPECT="about 17 minutes on 2 cores"; VOCAB=4096
        BASE=(--depth 3 --warmdown-ratio 0.4)  # the time-to-bpb-2.00 record's recipe (README, "The speedrun record")
        MID=(); SFT=(); RL=(); DISTILL=()
        EVAL=(); PASSK=(--pass-k 8); ARITH=(--count 500)
        PAIRS=(--prompts 960 --samples 8 --max-tokens 48); PAIRS_OTHER=(--prompts 200 --samples 4); PAIRS_TEST=(--prompts 300 --samples 8 --max-tokens 48)
        REWARD=(--steps 200); DPO=(--steps 34); BESTOF=(--count 500 --best-of 4)
        LORA=()
        VOTES_ARITH=(--count 500 --votes 8); VOTES_OTHER=(--count 100 --votes 8)
        RLZERO=(--format-reward 0.2); STUDENT_BASE=(--depth 2)
        STUDENT_OFF=(--prompts 16 --steps 200 --lr-scale 1); STUDENT_ON=(--prompts 16 --steps 200 --lr-scale 0.3)
        STUDENT_SFT_ON=(--steps 150)
        DISK_MB=400 ;;
    large)  # for more cores and time: a deeper model trained longer (not measured on 2 cores)
        EXPECT="several hours on 2 cores, much less with 8 or more"; VOCAB=8192
        BASE=(--depth 6 --seq-len 256 --batch-size 16 --steps 2000 --eval-every 250 --sample-every 500 --save-every 100)
        MID=(--steps 500); SFT=(--steps 600)
        RL=(--steps 200); DISTILL=(--steps 100)
        EVAL=(--count 200); PASSK=(--pass-k 8); ARITH=(--count 500)
        PAIRS=(--prompts 2000 --samples 8 --max-tokens 48); PAIRS_OTHER=(--prompts 400 --samples 4); PAIRS_TEST=(--prompts 300 --samples 8 --max-tokens 48)
        REWARD=(); DPO=(); BESTOF=(--count 500 --best-of 4)
        LORA=(--steps 600)
        VOTES_ARITH=(--count 500 --votes 8); VOTES_OTHER=(--count 200 --votes 8)
        RLZERO=(--format-reward 0.2 --steps 200); STUDENT_BASE=(--depth 3 --steps 2000)
        STUDENT_OFF=(--prompts 16 --steps 400 --lr-scale 1); STUDENT_ON=(--prompts 16 --steps 400 --lr-scale 0.3)
        STUDENT_SFT_ON=(--steps 300)
        DISK_MB=1000 ;;
    *) die "unknown preset '$1' (use quick, default or large)" ;;
    esac
}

# Free disk and memory before a long run, so it does not fail an hour in.
check_room() {
    local out_parent avail_mb mem_mb
    out_parent=$(dirname "$(mkdir -p "$OUT" && cd "$OUT" && pwd)")
    avail_mb=$(df -Pk "$out_parent" | awk 'NR==2 {print int($4/1024)}')
    [ "${avail_mb:-0}" -ge "$DISK_MB" ] || die "only ${avail_mb} MB free on the disk of $OUT; this preset needs about $DISK_MB MB"
    if [ -r /proc/meminfo ]; then
        mem_mb=$(awk '/MemAvailable/ {print int($2/1024)}' /proc/meminfo)
        [ "${mem_mb:-0}" -ge 1024 ] || die "only ${mem_mb} MB of memory available; training needs about 1 GB"
    fi
}

# step NAME DESCRIPTION COMMAND...: runs a stage unless its marker says it finished. A stage that was
# interrupted (Ctrl-C saves a checkpoint and exits 130, which stops this script) resumes with --resume.
step() {
    local name=$1 desc=$2; shift 2
    if [ -f "$OUT/.done/$name" ]; then say "$desc: done already, skipped (--fresh redoes every stage)"; return; fi
    local args=() a resume=0
    [ -f "$OUT/$name/model.safetensors" ] || [ -f "$OUT/$name/adapter_config.json" ] && resume=1
    for a in "$@"; do
        if [ "$a" != --resumable ]; then args+=("$a"); elif [ $resume = 1 ]; then args+=(--resume); fi
    done
    if [[ " ${args[*]} " == *" --resume "* ]]; then say "$desc: resuming from $OUT/$name"; else say "$desc"; fi
    local t0=$SECONDS
    "$BIN" "${args[@]}"
    mkdir -p "$(dirname "$OUT/.done/$name")" && echo "$((SECONDS - t0)) s" > "$OUT/.done/$name"
}

# Preference tuning (Lessons/12-preferences.md), after the speedrun's stages: pairs sampled from the SFT model
# (right answer vs wrong one), a reward model on them and on data/chat's hand-written pairs, DPO from SFT
# with SFT as the reference, and the reward model picking the best of N sampled answers.
preference_group() {
    local P=$OUT/pairs
    step pairs "preference 1/5: arithmetic pairs from the SFT model's sampled answers: ${PAIRS[*]}" pairs --source sft --tasks arithmetic "${PAIRS[@]}" --output "$P/arithmetic.jsonl"
    step pairs-other "preference 1/5: spelling, counting and multiple-choice pairs: ${PAIRS_OTHER[*]}" pairs --source sft --tasks spelling,counting,choice "${PAIRS_OTHER[@]}" --output "$P/other.jsonl"
    step pairs-test "preference 1/5: held-out arithmetic pairs (other prompts): ${PAIRS_TEST[*]}" pairs --source sft --tasks arithmetic --seed 6000 "${PAIRS_TEST[@]}" --output "$P/arithmetic-test.jsonl"
    step reward "preference 2/5: reward model (SFT + score head, Bradley-Terry): ${REWARD[*]:-the defaults}" reward-train --pairs "$P/arithmetic.jsonl" --pairs "$P/other.jsonl" --pairs data/chat/preferences-train.jsonl --held-out "$P/arithmetic-test.jsonl" --held-out data/chat/preferences-test.jsonl "${REWARD[@]}" --resumable
    step dpo "preference 3/5: DPO from SFT on the arithmetic pairs: ${DPO[*]:-the defaults}" chat-dpo --pairs "$P/arithmetic.jsonl" --held-out "$P/arithmetic-test.jsonl" --held-out data/chat/preferences-test.jsonl "${DPO[@]}" --resumable
    step eval-dpo "preference 4/5: chat evaluation after DPO" chat-eval --checkpoint "$OUT/dpo" "${EVAL[@]}"
    step eval-dpo-arith "preference 4/5: arithmetic after DPO: ${ARITH[*]}" chat-eval --checkpoint "$OUT/dpo" --tasks arithmetic "${ARITH[@]}"
    step best-of "preference 5/5: the reward model picks the best of N sampled answers of the SFT model: ${BESTOF[*]}" chat-eval --source sft --tasks arithmetic "${BESTOF[@]}" --reward-model "$OUT/reward"
}

# LoRA (Lessons/13-lora.md), after the speedrun's stages: SFT again from the mid checkpoint, but as a rank-8
# adapter on every linear layer of the blocks with the mid model frozen, beside the full SFT; evaluated with
# the adapter on its base, then merged into an ordinary checkpoint.
lora_group() {
    step sft-lora "LoRA 1/3: SFT from mid as a rank-8 adapter, the mid model frozen: ${LORA[*]:-the defaults}" chat-sft --lora-rank 8 --into "$OUT/sft-lora" "${LORA[@]}" --resumable
    step eval-sft-lora "LoRA 2/3: chat evaluation of mid + the adapter" chat-eval --adapter "$OUT/sft-lora" "${EVAL[@]}"
    step sft-lora-merged "LoRA 3/3: the adapter merged into an ordinary checkpoint" lora-merge --adapter "$OUT/sft-lora" --out-dir "$OUT/sft-lora-merged" --fresh
}

# Reasoning (Lessons/14-reasoning.md), after the speedrun's stages: the four routes of DeepSeek-R1's
# taxonomy on our tasks. Inference-time scaling: majority votes of the SFT and the final model. Steps or
# none: SFT from mid on terse answers beside the ordinary SFT. Pure RL (R1-Zero): RL from mid with an
# accuracy and a format reward, beside SFT + RL. Distillation: a depth-2 student with its own base and mid,
# taught by ordinary SFT, by SFT on the final model's right answers (off-policy), and on-policy from mid
# and after its SFT.
reasoning_group() {
    local s S=$OUT/student
    for s in sft distill; do
        step votes-$s-arith "reasoning 1/4: majority votes of the ${s^^} model, arithmetic: ${VOTES_ARITH[*]}" chat-eval --source $s --tasks arithmetic "${VOTES_ARITH[@]}"
        step votes-$s "reasoning 1/4: majority votes of the ${s^^} model, counting and choice: ${VOTES_OTHER[*]}" chat-eval --source $s --tasks counting,choice "${VOTES_OTHER[@]}"
    done
    step sft-terse "reasoning 2/4: SFT from mid on terse answers (no steps, no calculator): ${SFT[*]:-the defaults}" chat-sft --terse --into "$OUT/sft-terse" "${SFT[@]}" --resumable
    step eval-sft-terse "reasoning 2/4: chat evaluation after terse SFT" chat-eval --checkpoint "$OUT/sft-terse" "${EVAL[@]}"
    step eval-sft-terse-arith "reasoning 2/4: arithmetic after terse SFT: ${ARITH[*]}" chat-eval --checkpoint "$OUT/sft-terse" --tasks arithmetic "${ARITH[@]}"
    step rl-zero "reasoning 3/4: RL from mid, no SFT (R1-Zero): ${RL[*]} ${RLZERO[*]}" chat-rl --from "$OUT/mid" --into "$OUT/rl-zero" "${RL[@]}" "${RLZERO[@]}" --resumable
    step eval-rl-zero "reasoning 3/4: chat evaluation after RL from mid" chat-eval --checkpoint "$OUT/rl-zero" "${EVAL[@]}"
    step eval-rl-zero-arith "reasoning 3/4: arithmetic after RL from mid: ${ARITH[*]}" chat-eval --checkpoint "$OUT/rl-zero" --tasks arithmetic "${ARITH[@]}"
    # The student's own run folder shares the tokenizer and the token shards.
    mkdir -p "$S" && ln -sfn ../tokenizer "$S/tokenizer" && ln -sfn ../data "$S/data"
    step student/base "reasoning 4/4: the student's pretraining: ${STUDENT_BASE[*]}" base-train --out "$S" --train "$train" --val "$val" "${STUDENT_BASE[@]}" --resumable
    step student/mid "reasoning 4/4: the student's mid-training: ${MID[*]:-the defaults}" mid-train --out "$S" "${MID[@]}" --resumable
    step student/sft "reasoning 4/4: the student's ordinary SFT: ${SFT[*]:-the defaults}" chat-sft --out "$S" "${SFT[@]}" --resumable
    step student/distill-off "reasoning 4/4: the student from mid on the final model's right answers (off-policy): ${STUDENT_OFF[*]}" chat-distill --out "$S" --student "$S/mid" --teacher "$OUT/distill" --tasks arithmetic,spelling,counting,choice:2 --off-policy --only-correct --into "$S/distill-off" "${STUDENT_OFF[@]}" --resumable
    step student/distill-on "reasoning 4/4: the student from mid taught on-policy by the final model: ${STUDENT_ON[*]}" chat-distill --out "$S" --student "$S/mid" --teacher "$OUT/distill" --tasks arithmetic,spelling,counting,choice:2 --exact-kl --into "$S/distill-on" "${STUDENT_ON[@]}" --resumable
    step student/sft-on "reasoning 4/4: the student's SFT checkpoint taught on-policy by the final model: ${STUDENT_SFT_ON[*]}" chat-distill --out "$S" --student "$S/sft" --teacher "$OUT/distill" --tasks arithmetic,spelling,counting,choice:2 --exact-kl --into "$S/sft-on" "${STUDENT_SFT_ON[@]}" --resumable
    for s in sft distill-off distill-on sft-on; do
        step eval-student-$s "reasoning 4/4: chat evaluation of the student after $s" chat-eval --out "$S" --checkpoint "$S/$s" "${EVAL[@]}"
        step eval-student-$s-arith "reasoning 4/4: arithmetic of the student after $s: ${ARITH[*]}" chat-eval --out "$S" --checkpoint "$S/$s" --tasks arithmetic "${ARITH[@]}"
    done
}

# The ablation ladder (Lessons/04-pretraining.md): the same short pretraining once per rung, each rung
# with one modern piece of nanochat's model switched off, for each seed; then a table of val bpb.
#   ./run.sh ladder [quick] [--out DIR] [--seeds "1 2"]     (default: out/ladder, about 40 minutes)
LADDER_RUNGS=(  # folder|name|base-train flags
    "nanochat|nanochat|"
    "no-rotary|no rotary|--no-rotary"
    "no-qk-norm|no QK-norm|--no-qk-norm"
    "gelu|GELU, not ReLU²|--activation gelu"
    "relu|ReLU, not ReLU²|--activation relu"
    "no-softcap|no logit softcap|--softcap 0"
    "adamw|AdamW, not Muon|--matrix-optimizer adamw"
)
ladder() {
    local size=default seeds="1 2" out="${NANOCHAT_OUT:-out}/ladder"
    while [ $# -gt 0 ]; do
        case "$1" in
        quick) size=quick; seeds=1 ;;
        --out) [ $# -ge 2 ] || die "--out needs a folder"; out=$2; shift ;;
        --seeds) [ $# -ge 2 ] || die "--seeds needs a list, e.g. --seeds \"1 2\""; seeds=$2; shift ;;
        *) die "unknown argument '$1'. Usage: ./run.sh ladder [quick] [--out DIR] [--seeds \"1 2\"]" ;;
        esac
        shift
    done
    local seed
    for seed in $seeds; do [[ "$seed" =~ ^[0-9]+$ ]] || die "--seeds takes whole numbers, e.g. \"1 2\"; got '$seed'"; done
    preset "$size"
    # The short pretraining every rung gets: the speedrun's depth-3 recipe for 150 steps (quick: its tiny one).
    local short=("${BASE[@]}" --steps 150 --sample-every 0)
    [ "$size" = quick ] && short=("${BASE[@]}")
    OUT=$out
    build
    check_room
    local train=data/shakespeare/train val=data/shakespeare/val
    say "ablation ladder, preset '$size': ${#LADDER_RUNGS[@]} rungs x seeds $seeds, each: base-train ${short[*]}"
    step tokenizer "ladder: a $VOCAB-token BPE trained on $train" tok-train --out "$OUT" --input "$train" --vocab-size "$VOCAB"
    local rung id name flags
    for rung in "${LADDER_RUNGS[@]}"; do
        IFS='|' read -r id name flags <<< "$rung"
        for seed in $seeds; do
            # Every rung's folder shares the tokenizer and the token shards.
            mkdir -p "$OUT/$id-s$seed" "$OUT/data" && ln -sfn ../tokenizer "$OUT/$id-s$seed/tokenizer" && ln -sfn ../data "$OUT/$id-s$seed/data"
            # shellcheck disable=SC2086  # flags are words
            step "$id-s$seed/base" "ladder: $name, seed $seed: base-train ${short[*]} --seed $seed $flags" base-train --out "$OUT/$id-s$seed" --train "$train" --val "$val" "${short[@]}" --seed "$seed" $flags --resumable
        done
    done
    ladder_table "$seeds" | tee "$OUT/ladder.md"
}

# The ladder's table from the rungs' logs: each seed's last val bpb, their mean, the change from nanochat's.
ladder_table() {
    local seeds=$1 rung id name flags seed bpb row base=""
    echo "| rung | base-train flags | $(for seed in $seeds; do printf 'seed %s | ' "$seed"; done)mean | vs nanochat |"
    echo "|---|---|$(for seed in $seeds; do printf -- '---|'; done)---|---|"
    for rung in "${LADDER_RUNGS[@]}"; do
        IFS='|' read -r id name flags <<< "$rung"
        row=""
        for seed in $seeds; do
            bpb=$(grep '"val_bpb"' "$OUT/$id-s$seed/base/log.jsonl" 2>/dev/null | tail -1 | sed 's/.*"val_bpb":\([0-9.]*\).*/\1/')
            row="$row ${bpb:-?}"
        done
        echo "$name|${flags:-(none)}|$row" | awk -F'|' -v base="$base" '{
            n = split($3, b, " "); s = 0; line = "| " $1 " | `" $2 "` | "
            for (i = 1; i <= n; i++) { s += b[i]; line = line sprintf("%.4f", b[i]) " | " }
            m = s / n; d = (base == "") ? "" : sprintf("%+.4f", m - base)
            printf "%s%.4f | %s |\n", line, m, d }'
        [ -n "$base" ] || base=$(echo "$row" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.6f", s / NF }')
    done
}

speedrun() {
    local size=default fresh=0 corpus="" preference=0 lora=0 reasoning=0
    OUT="${NANOCHAT_OUT:-out}"
    while [ $# -gt 0 ]; do
        case "$1" in
        quick|default|large) size=$1 ;;
        --fresh) fresh=1 ;;
        --preference) preference=1 ;;
        --lora) lora=1 ;;
        --reasoning) reasoning=1 ;;
        --out) [ $# -ge 2 ] || die "--out needs a folder"; OUT=$2; shift ;;
        --corpus) [ $# -ge 2 ] || die "--corpus needs a folder with train/ and val/, or a .jsonl file"; corpus=$2; shift ;;
        *) die "unknown argument '$1'. Usage: ./run.sh [quick|default|large] [--preference] [--lora] [--reasoning] [--fresh] [--out DIR] [--corpus DIR|FILE.jsonl] | test | build | help" ;;
        esac
        shift
    done
    preset "$size"
    local train=data/shakespeare/train val=data/shakespeare/val
    if [ -n "$corpus" ] && [ -d "$corpus" ]; then
        [ -d "$corpus/train" ] && [ -d "$corpus/val" ] || die "--corpus $corpus must be a folder with train/ and val/ subfolders of *.txt files (nanochat download --jsonl-text writes one)"
        train=$corpus/train; val=$corpus/val
    elif [ -n "$corpus" ]; then
        [ -f "$corpus" ] && [[ "$corpus" == *.jsonl ]] || die "--corpus $corpus: give a folder with train/ and val/, or a .jsonl file of {\"text\": ...} lines"
        train=$OUT/corpus/train; val=$OUT/corpus/val
    fi
    build
    check_room
    if [ $fresh = 1 ]; then
        say "--fresh: removing the stages in $OUT"
        rm -rf "$OUT/.done" "$OUT/corpus" "$OUT/corpus.jsonl" "$OUT/tokenizer" "$OUT/data" "$OUT/base" "$OUT/mid" "$OUT/sft" "$OUT/rl" "$OUT/distill" "$OUT/pairs" "$OUT/reward" "$OUT/dpo" "$OUT/sft-lora" "$OUT/sft-lora-merged" "$OUT/sft-terse" "$OUT/rl-zero" "$OUT/student" "$OUT/report"
    fi
    # A JSONL corpus becomes a train/ + val/ folder once (every 20th document is held out).
    if [ -n "$corpus" ] && [ -f "$corpus" ] && [ ! -d "$OUT/corpus" ]; then
        say "corpus: $corpus -> $OUT/corpus/{train,val}"
        mkdir -p "$OUT"
        "$BIN" download "file://$(cd "$(dirname "$corpus")" && pwd)/$(basename "$corpus")" --output "$OUT/corpus.jsonl" --jsonl-text --text-dir "$OUT/corpus"
    fi
    # The markers say which preset and corpus made the stages: another one needs --fresh or another --out.
    local made="$size $train $val"
    if [ -f "$OUT/.done/preset" ] && [ "$(cat "$OUT/.done/preset")" != "$made" ]; then
        die "$OUT holds stages made by '$(cat "$OUT/.done/preset")', not '$made'. Use --fresh to redo them or --out for another folder."
    fi
    mkdir -p "$OUT/.done" && echo "$made" > "$OUT/.done/preset"
    export NANOCHAT_OUT=$OUT
    say "nanochat speedrun, preset '$size': $EXPECT. Outputs in $OUT/. Ctrl-C stops a stage with a checkpoint; run again to continue."
    local start=$SECONDS
    step tokenizer "stage 1/8: tokenizer: a $VOCAB-token BPE trained on $train" tok-train --input "$train" --vocab-size "$VOCAB"
    step tok-eval "stage 1/8: tokenizer evaluation on $val" tok-eval --input "$val"
    step base "stage 2/8: pretraining: ${BASE[*]:-the defaults}" base-train --train "$train" --val "$val" "${BASE[@]}" --resumable
    step base-eval "stage 3/8: base model evaluation (val bpb, samples)" base-eval
    step mid "stage 4/8: mid-training on corpus text mixed with conversations: ${MID[*]:-the defaults}" mid-train "${MID[@]}" --resumable
    step sft "stage 5/8: supervised fine-tuning, assistant tokens only: ${SFT[*]:-the defaults}" chat-sft "${SFT[@]}" --resumable
    step rl "stage 6/8: reinforcement learning on arithmetic: ${RL[*]:-the defaults}" chat-rl "${RL[@]}" --resumable
    step distill "stage 7/8: on-policy distillation: the RL model relearns spelling, counting and multiple choice from the SFT model: ${DISTILL[*]:-the defaults}" chat-distill --teacher sft --student rl --tasks spelling:3,counting,choice --exact-kl --lr-scale 0.03 "${DISTILL[@]}" --resumable
    step eval-mid "stage 8/8: chat evaluation after mid-training" chat-eval --source mid "${EVAL[@]}"
    step eval-sft "stage 8/8: chat evaluation after SFT" chat-eval --source sft "${EVAL[@]}" "${PASSK[@]}"
    step eval-rl "stage 8/8: chat evaluation after RL" chat-eval --source rl "${EVAL[@]}" "${PASSK[@]}"
    step eval-distill "stage 8/8: chat evaluation after distillation" chat-eval --source distill "${EVAL[@]}" "${PASSK[@]}"
    # What RL gained, beside its noise: pass@k sampled with a second seed, and greedy on more problems.
    local s
    for s in sft rl distill; do
        step eval-$s-seed2 "stage 8/8: arithmetic after ${s^^}, sampled with a second seed" chat-eval --source $s --tasks arithmetic "${EVAL[@]}" "${PASSK[@]}" --seed 2
        step eval-$s-arith "stage 8/8: arithmetic after ${s^^}: ${ARITH[*]}" chat-eval --source $s --tasks arithmetic "${ARITH[@]}"
    done
    [ $preference = 1 ] && preference_group
    [ $lora = 1 ] && lora_group
    [ $reasoning = 1 ] && reasoning_group
    rm -f "$OUT/.done/report"  # the report is always rewritten from what is there
    step report "report: $OUT/report/report.md" report
    say "done in $((SECONDS - start)) s; the report is $OUT/report/report.md"
    echo "Chat with it:  $BIN chat --out $OUT      (or: $BIN chat --out $OUT -p \"Who are you?\")"
}

case "${1:-}" in
test)
    ensure_deps
    say "building the binary and the tests (swift build --build-tests ${SWIFT_FLAGS[*]})"
    swift build --build-tests "${SWIFT_FLAGS[@]}"
    say "running the tests"
    swift test --skip-build --disable-swift-testing "${SWIFT_FLAGS[@]}"  # XCTest only: no empty Swift Testing run
    say "the whole pipeline end to end with tiny settings (./run.sh quick, into a temporary folder)"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    "$0" quick --preference --lora --reasoning --out "$tmp/out"
    say "the ablation ladder with tiny settings (./run.sh ladder quick)"
    "$0" ladder quick --out "$tmp/ladder"
    ;;
build)
    build
    ;;
ladder)
    shift
    ladder "$@"
    ;;
help|-h|--help)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    if [ -x "$BIN" ]; then echo; "$BIN" stages; else echo; echo "(./run.sh build, then ./run.sh help lists the stages)"; fi
    ;;
*)
    speedrun "$@"
    ;;
esac
