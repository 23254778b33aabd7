#!/usr/bin/env bash
# The main job (`make demo [VIDEO=clip.mp4]`): build Faces into ./faces, then start the server and the
# Maker portal with them installed as stock Faces, and print the portal's address and a sign-in key.
#   - VIDEO given: check it and build a Face from it.
#   - no VIDEO and no usable Face yet (none built, or only bundles of an older format): build a stock
#     Face from a local recording of ../shared/testdata
#     (those recordings are for local use only; nothing is downloaded or redistributed).
set -euo pipefail
video="${1:-}"
fc=.venv/bin/facecraft
stock_source=../shared/testdata/video/edtalk_uncrop_Obama.mp4

usable_face() {  # is there a bundle in ./faces that this version loads? (older formats need a rebuild)
  for bundle in faces/*/; do
    [ -d "$bundle" ] && "$fc" faces show "$bundle" >/dev/null 2>&1 && return 0
  done
  return 1
}

build() {  # build VIDEO NAME: check, build into ./faces, summarise
  "$fc" check "$1" || echo "(the checks above failed: the build will stop at the first failure)"
  bundle="$("$fc" faces create --video "$1" --name "$2" --out faces | tail -n 1)"
  "$fc" faces show "$bundle"
}

if [ -n "$video" ]; then
  if [ ! -f "$video" ]; then
    echo "No such video: $video" >&2
    exit 2
  fi
  build "$video" "$(basename "${video%.*}")"
elif ! usable_face && [ -f "$stock_source" ]; then
  echo "Building a stock Face from $stock_source (once; later runs reuse ./faces)"
  build "$stock_source" "Obama (stock)"
else
  echo "Tip: build a Face from your own training video with: make demo VIDEO=path/to/clip.mp4"
fi
stock=()
if [ -n "$(ls -A faces 2>/dev/null)" ]; then
  stock=(--stock faces)
fi
exec "$fc" serve "${stock[@]}"
