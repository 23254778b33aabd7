#!/usr/bin/env bash
# The main job (`make demo [VIDEO=clip.mp4] [PORT=8000]`), on a fresh clone with nothing beside it:
#   1. build the stock Faces (public-domain portraits shipped inside installed packages) once into
#      faces/stock, each with a sample video of it speaking; later runs reuse them;
#   2. VIDEO given: check it, build a Face from it into faces/own and render a sample video of it;
#   3. serve the API and the Maker portal with those Faces installed as stock Faces, on PORT (8000 by
#      default; the next free port when it is busy) and print the address and a sign-in key.
# DEMO_BUILD_ONLY=1 stops after step 2 (the tests run that part on a fresh clone).
set -euo pipefail
video="${1:-}"
PY="${PY:-.venv/bin/python}"
port="${PORT:-8000}"

fc() { "$PY" -m facecraft.cli "$@"; }

if [ -n "$video" ] && [ ! -f "$video" ]; then
  echo "No such video: $video" >&2
  exit 2
fi

echo "== Stock Faces (built once into faces/stock; a rebuilt photo or a new bundle format rebuilds them)"
fc stock build --out faces/stock

if [ -n "$video" ]; then
  echo "== Your Face from $video"
  fc check "$video" || echo "(the checks above failed: the build will stop at the first failure)"
  # The clip must open with the consent statement (API.md); CONSENT_ATTESTED=1 records that you, the
  # operator, attest consent instead (written into the Face's manifest and report as "attested").
  attest=()
  [ "${CONSENT_ATTESTED:-0}" = "1" ] && attest=(--consent-attested)
  bundle="$(fc faces create --video "$video" --name "$(basename "${video%.*}")" --out faces/own "${attest[@]}" \
    | tail -n 1)"
  fc faces show "$bundle"
  sample="${bundle}-sample.mp4"
  fc say "$bundle" "Hello! This is my own Face, made with facecraft from a one-minute video." -o "$sample" \
    >/dev/null
  echo "Your Face: sample video $sample"
else
  echo "Tip: build a Face from your own training video with: make demo VIDEO=path/to/clip.mp4"
fi

if [ "${DEMO_BUILD_ONLY:-}" = "1" ]; then
  exit 0
fi

# A busy port (another server, an earlier demo) is said and stepped over, not a traceback.
free_port() {
  "$PY" - "$1" <<'EOF'
import socket, sys
start = int(sys.argv[1])
for port in range(start, start + 50):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
EOF
}
chosen="$(free_port "$port")"
if [ -z "$chosen" ]; then
  echo "Ports $port-$((port + 49)) are all busy: set PORT=... (make demo PORT=9000)" >&2
  exit 2
fi
if [ "$chosen" != "$port" ]; then
  echo "Port $port is busy (another server?): using $chosen instead. Set PORT=... to choose one."
fi

key="$(fc keys create --name "make demo" | tail -n 1)"
echo "== Sign in to the portal with this API key:"
echo "   $key"
exec "$PY" -m facecraft.cli serve --port "$chosen" --stock faces
