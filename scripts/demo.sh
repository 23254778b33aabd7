#!/usr/bin/env bash
# The main job (`make demo [VIDEO=clip.mp4]`): with a training video, check it and build a Face from
# it into ./faces; then start the server and the Maker portal (with the Faces in ./faces installed).
set -euo pipefail
video="${1:-}"
fc=.venv/bin/facecraft
if [ -n "$video" ]; then
  if [ ! -f "$video" ]; then
    echo "No such video: $video" >&2
    exit 2
  fi
  "$fc" check "$video" || echo "(the checks above failed: the build will stop at the first failure)"
  bundle="$("$fc" faces create --video "$video" --name "$(basename "${video%.*}")" --out faces | tail -n 1)"
  "$fc" faces show "$bundle"
else
  echo "Tip: build a Face from a training video with: make demo VIDEO=path/to/clip.mp4"
  echo "     (e.g. make demo VIDEO=../shared/testdata/video/mimictalk_German_20s.mp4)"
fi
stock=()
if [ -d faces ] && [ -n "$(ls -A faces 2>/dev/null)" ]; then
  stock=(--stock faces)
fi
exec "$fc" serve "${stock[@]}"
