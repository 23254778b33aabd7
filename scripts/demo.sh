#!/usr/bin/env bash
# The main job: build a Face from a training video (until the portal exists).
set -euo pipefail
video="${1:-}"
if [ -z "$video" ]; then
  echo "Pass a training video: make demo VIDEO=path/to/clip.mp4"
  echo "(e.g. make demo VIDEO=../shared/testdata/video/mimictalk_German_20s.mp4)"
  exit 0
fi
.venv/bin/facecraft check "$video" || true
.venv/bin/facecraft faces create --video "$video" --name "$(basename "${video%.*}")" --out faces
