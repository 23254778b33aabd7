#!/usr/bin/env bash
# The main job (`make demo [VIDEO=clip.mp4]`): build Faces into ./faces, then start the server and the
# Maker portal with them installed as stock Faces, and print the portal's address and a sign-in key.
#   - VIDEO given: check it and build a Face from it.
#   - no VIDEO and no Face built yet: build a stock Face from a local recording of ../shared/testdata
#     (those recordings are for local use only; nothing is downloaded or redistributed).
set -euo pipefail
video="${1:-}"
fc=.venv/bin/facecraft
stock_source=../shared/testdata/video/edtalk_uncrop_Obama.mp4

build() {  # build VIDEO NAME [CONSENT...]: check, build into ./faces, summarise
  local video="$1" name="$2"
  shift 2
  "$fc" check "$video" || echo "(the checks above failed: the build will stop at the first failure)"
  bundle="$("$fc" faces create --video "$video" --name "$name" --out faces "$@" | tail -n 1)"
  "$fc" faces show "$bundle"
}

if [ -n "$video" ]; then
  if [ ! -f "$video" ]; then
    echo "No such video: $video" >&2
    exit 2
  fi
  build "$video" "$(basename "${video%.*}")"
elif [ -z "$(ls -A faces 2>/dev/null)" ] && [ -f "$stock_source" ]; then
  echo "Building a stock Face from $stock_source (once; later runs reuse ./faces)"
  # A public address, not a personal recording: it has no consent statement, so the demo attests it
  # explicitly (recorded in the bundle's manifest and report as "attested").
  build "$stock_source" "Obama (stock)" --consent-attested
else
  echo "Tip: build a Face from your own training video with: make demo VIDEO=path/to/clip.mp4"
fi
stock=()
if [ -n "$(ls -A faces 2>/dev/null)" ]; then
  stock=(--stock faces)
fi
exec "$fc" serve "${stock[@]}"
