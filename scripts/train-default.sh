#!/usr/bin/env bash
# Trains the default emoji-64 model from a fresh clone and writes weights/.
# Resumable: a finished stage is skipped (its output exists), a training stage that was stopped
# continues from its latest checkpoint, so the hours this takes on 2 cores can be spread over
# several runs. Stage wall times go to $RUN/times.tsv (appended per completed run of a stage).
#
#   scripts/train-default.sh                 # everything
#   STAGES="dvae encode" scripts/train-default.sh
#   DVAE_STEPS=4000 DALLE_STEPS=6000 scripts/train-default.sh
#   DALLE_WORKERS=2 scripts/train-default.sh  # transformer data-parallel on 2 idle cores (wasm/cpu)
#   SETS=google,twitter,fluent scripts/train-default.sh  # add Fluent Emoji 3D as a third art style
#   SETS=google,twitter,fluent,fluent-flat,fluent-color scripts/train-default.sh  # and Fluent's two 2D styles
#   BALANCE=1 FOCUS=2 scripts/train-default.sh  # concepts drawn evenly, then by how badly the model draws them
#   STYLE=twitter SAMPLING='{"condScale": 2, "temperature": 0.7}' scripts/train-default.sh
#       # then fine-tune the transformer on one art set alone, as the shipped weights were (see README)
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=${RUN:-runs/default}
DATA=${DATA:-data/emoji}
TOKENS=${TOKENS:-data/emoji-tokens}
SETS=${SETS:-google,twitter}  # dalle-data emoji --sets (fluent, fluent-flat, fluent-color: Fluent Emoji 3D, Flat, Color; MIT)
DVAE_STEPS=${DVAE_STEPS:-1600}
DALLE_STEPS=${DALLE_STEPS:-3000}
CLIP_STEPS=${CLIP_STEPS:-400}
DALLE_WARMUP=${DALLE_WARMUP:-200}
DALLE_WORKERS=${DALLE_WORKERS:-1}
MIRROR=${MIRROR:-1}          # dvae-encode --mirror on the training split
BALANCE=${BALANCE:-0}        # 1: dalle-train --balance, every emoji concept drawn equally often (skin tones folded)
FOCUS=${FOCUS:-0}            # with BALANCE=1: dalle-train --focus, concepts drawn by their loss under the starting model to this power (e.g. 2)
CLIP_SHIFT=${CLIP_SHIFT:-4}  # clip-train --shift: random shifts of up to 4 pixels
STYLE=${STYLE:-}             # an art set (e.g. twitter): the style stage fine-tunes the transformer on it alone
STYLE_STEPS=${STYLE_STEPS:-3000}
STYLE_LR=${STYLE_LR:-3e-4}
SAMPLING=${SAMPLING:-}       # JSON: the sampler settings that the weights' manifest recommends (assemble-weights --sampling)
STAGES=${STAGES:-"data tokenizer dvae encode transformer style clip eval weights"}
bin() { node "packages/$1/bin/$2.js" "${@:3}"; }
# Prints a dotted field of a JSON file (empty when missing).
json_field() { node -e 'let v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); for (const k of process.argv[2].split(".")) v = v?.[k]; process.stdout.write(v == null ? "" : String(v));' "$1" "$2"; }
# The identity of the dVAE whose codes a dVAE folder produces: a decoder-only fine-tune
# (dvae-train --decoder-only) records the model it kept the codes of; any other, its own.
codes_id() { local c; c=$(json_field "$1/config.json" info.codesFrom); [ -n "$c" ] || c=$(json_field "$1/config.json" info.identity); printf '%s' "$c"; }
mkdir -p "$RUN"

# Runs stage $1 (a shell function) unless it is not in $STAGES; records its wall time.
stage() {
  local name=$1
  [[ " $STAGES " == *" $name "* ]] || return 0
  echo "== $name" >&2
  local t0=$SECONDS
  "stage_$name"
  printf '%s\t%s\n' "$name" "$((SECONDS - t0))" >> "$RUN/times.tsv"
}

stage_data() {
  if [ -f "$DATA/manifest.json" ]; then
    local built; built=$(json_field "$DATA/manifest.json" sets)
    [ "$built" = "$SETS" ] || { echo "$DATA holds the sets $built, not SETS=$SETS: remove it or set DATA to another folder" >&2; exit 2; }
    echo "$DATA exists" >&2; return
  fi
  bin data dalle-data emoji --out "$DATA" --sets "$SETS"
}

stage_tokenizer() {
  [ -f "$RUN/tokenizer/tokenizer.json" ] && { echo "$RUN/tokenizer exists" >&2; return; }
  # Keep the shipped tokenizer when there is one: the shipped transformer's text ids depend on it.
  if [ -f weights/tokenizer/tokenizer.json ]; then cp -r weights/tokenizer "$RUN/tokenizer"; return; fi
  bin data tokenizer-train --data "$DATA/train" --out "$RUN/tokenizer"
}

stage_dvae() {
  [ -f "$RUN/export/dvae/model.safetensors" ] && { echo "$RUN/export/dvae exists" >&2; return; }
  if [ -d "$RUN/dvae/checkpoints" ]; then
    bin dvae dvae-train --resume "$RUN/dvae" --export "$RUN/export/dvae"
  elif [ -f weights/dvae/model.safetensors ] && [ -z "${RETRAIN_DVAE:-}" ]; then
    # The shipped dVAE defines the image tokens of the shipped transformer: keep it unless asked.
    mkdir -p "$RUN/export" && cp -r weights/dvae "$RUN/export/dvae"
  else
    bin dvae dvae-train --data "$DATA/train" --val "$DATA/val-images" --out "$RUN/dvae" \
      --steps "$DVAE_STEPS" --checkpoint-every 200 --val-every 800 --export "$RUN/export/dvae"
  fi
}

stage_encode() {
  for split in train val-images; do
    [ -f "$TOKENS/$split/manifest.json" ] && { echo "$TOKENS/$split exists" >&2; continue; }
    local mirror=()
    # The training split also gets every image mirrored (left/right swapped in its captions): twice the data.
    [ "$split" = train ] && [ "$MIRROR" = 1 ] && mirror=(--mirror)
    # --group-by emoji names each record's concept (groups.json), for dalle-train --balance.
    bin dvae dvae-encode --dvae "$RUN/export/dvae" --tokenizer "$RUN/tokenizer" --data "$DATA/$split" --out "$TOKENS/$split" "${mirror[@]}" --group-by emoji
  done
}

stage_transformer() {
  [ -f "$RUN/export/transformer/model.safetensors" ] && { echo "$RUN/export/transformer exists" >&2; return; }
  local args=(--data "$TOKENS/train" --val "$TOKENS/val-images" --runs-dir "$RUN" --name transformer
    --steps "$DALLE_STEPS" --warmup-steps "$DALLE_WARMUP" --checkpoint-every 100 --val-every 1000 --val-batches 20
    --export "$RUN/export/transformer" --workers "$DALLE_WORKERS")
  [ "$BALANCE" = 1 ] && args+=(--balance)
  [ "$BALANCE" = 1 ] && [ "$FOCUS" != 0 ] && args+=(--focus "$FOCUS")
  if [ -d "$RUN/transformer/checkpoints" ]; then
    bin transformer dalle-train --resume "$RUN/transformer" --export "$RUN/export/transformer" --workers "$DALLE_WORKERS"
  elif [ -f weights/transformer/model.safetensors ] && [ -z "${RETRAIN_DALLE:-}" ]; then
    # A new dVAE's codes mean something else: keep the shipped text and transformer weights and
    # carry the image part over by how the two dVAEs encode the same training images (the shipped
    # dVAE's encoding is written once, beside the token dataset); without the shipped dVAE, redraw it.
    local carry=()
    local shipped_id
    shipped_id=$(json_field weights/transformer/config.json info.dvaeId)
    if [ "$(codes_id "$RUN/export/dvae")" != "$shipped_id" ]; then
      if [ -f weights/dvae/config.json ] && [ "$(codes_id weights/dvae)" = "$shipped_id" ]; then
        local old="$TOKENS/train-shipped-dvae" mirror=()
        [ "$MIRROR" = 1 ] && mirror=(--mirror)
        [ -f "$old/manifest.json" ] || bin dvae dvae-encode --dvae weights/dvae --tokenizer "$RUN/tokenizer" --data "$DATA/train" --out "$old" "${mirror[@]}" --group-by emoji
        carry=(--remap-image "$old")
      else
        carry=(--reinit-image)
      fi
    fi
    bin transformer dalle-train "${args[@]}" --init weights/transformer "${carry[@]}"
  else
    bin transformer dalle-train "${args[@]}"
  fi
}

# The transformer that ships: the style stage's when STYLE is set, else the transformer stage's.
final_transformer() { if [ -n "$STYLE" ]; then printf '%s' "$RUN/export/transformer-$STYLE"; else printf '%s' "$RUN/export/transformer"; fi; }
# Assembles the run's parts (with that transformer and the SAMPLING settings) into a weights folder.
assemble() { npx tsx scripts/assemble-weights.ts --run "$RUN" --transformer "$(final_transformer)" ${SAMPLING:+--sampling "$SAMPLING"} "$@"; }

# With STYLE set: fine-tunes the transformer on that art set's training pictures alone (one picture
# per concept, no mirror images, concepts drawn evenly), so that it recalls each concept's picture
# code for code instead of averaging the styles.
stage_style() {
  [ -n "$STYLE" ] || { echo "STYLE is not set: no single-style fine-tune" >&2; return; }
  local out; out=$(final_transformer)
  [ -f "$out/model.safetensors" ] && { echo "$out exists" >&2; return; }
  local data="$DATA-$STYLE" tokens="$TOKENS-$STYLE/train"
  [ -f "$data/manifest.json" ] || bin data dalle-data emoji --out "$data" --sets "$STYLE"
  [ -f "$tokens/manifest.json" ] || bin dvae dvae-encode --dvae "$RUN/export/dvae" --tokenizer "$RUN/tokenizer" --data "$data/train" --out "$tokens" --group-by emoji
  if [ -d "$RUN/transformer-$STYLE/checkpoints" ]; then
    bin transformer dalle-train --resume "$RUN/transformer-$STYLE" --export "$out" --workers "$DALLE_WORKERS"
  else
    bin transformer dalle-train --init "$RUN/export/transformer" --data "$tokens" --val "$TOKENS/val-images" \
      --runs-dir "$RUN" --name "transformer-$STYLE" --balance --steps "$STYLE_STEPS" --lr "$STYLE_LR" --warmup-steps 20 \
      --weight-decay 0.01 --checkpoint-every 100 --val-every 1000 --val-batches 20 --export "$out" --workers "$DALLE_WORKERS"
  fi
}

stage_clip() {
  [ -f "$RUN/export/clip/config.json" ] && { echo "$RUN/export/clip exists" >&2; return; }
  local resume=()
  if [ -d "$RUN/clip/checkpoints" ]; then
    resume=(--resume)
  elif [ -f weights/clip/model.safetensors ] && [ -z "${RETRAIN_CLIP:-}" ]; then
    resume=(--init weights/clip) # warm start from the committed model when the run's checkpoints are gone
  fi
  bin clip clip-train --data "$DATA/train" --tokenizer "$RUN/tokenizer" --out "$RUN/clip" \
    --steps "$CLIP_STEPS" --warmup 40 --shift "$CLIP_SHIFT" --checkpoint-every 25 --export "$RUN/export/clip" "${resume[@]}"
}

stage_eval() {
  # Evaluates the freshly trained parts, assembled into a scratch weights folder.
  assemble --out "$RUN/weights-candidate"
  bin sampler dalle-eval --weights "$RUN/weights-candidate" --images "$DATA/val-images" \
    --candidates "${EVAL_CANDIDATES:-8}" --clip-images 700 --out "$RUN/eval"
}

stage_weights() {
  assemble --out weights --eval "$RUN/eval/eval.json"
  mkdir -p docs
  [ -f "$RUN/eval/contact-sheet.png" ] && cp "$RUN/eval/contact-sheet.png" docs/contact-sheet.png
  [ -f "$RUN/eval/eval.md" ] && cp "$RUN/eval/eval.md" docs/eval.md
  echo "weights/ updated; review docs/eval.md, then commit weights/ and docs/" >&2
}

stage data
stage tokenizer
stage dvae
stage encode
stage transformer
stage style
stage clip
stage eval
stage weights
