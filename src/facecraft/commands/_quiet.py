"""Keep native libraries' log lines out of the command's output.

MediaPipe (absl/glog) and TensorFlow Lite write log lines straight to file descriptor 2 ("W0000
00:00:... inference_feedback_manager.cc:114] ...", "INFO: Created TensorFlow Lite XNNPACK delegate
for CPU."), below Python's ``logging``, where no setting of ours reaches them; on a normal run they
bury the progress bar and the results. ``filter_native_logs`` points descriptor 2 at a pipe whose
reader drops those lines and passes every other line through, while Python's own ``sys.stderr``
(errors, progress bars, ``logging``) keeps writing to the real stderr. ``facecraft -vv`` keeps them.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

__all__ = ["NATIVE_LOG_LINE", "filter_native_logs"]

# absl/glog ("W0000 00:00:1796395628.504964   21121 file.cc:114] ..."), TFLite's "INFO: ...", absl's
# pre-init notice, and libpng's colour-profile warnings (a PNG's iCCP chunk; harmless).
NATIVE_LOG_LINE = re.compile(
    rb"^(?:[IWE]\d{4} [\d:.]+\s+\d+ \S+:\d+\] |INFO: Created TensorFlow Lite|"
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called|libpng warning: iCCP: )"
)


def filter_native_logs() -> None:
    """Filter descriptor 2 for the rest of the process (see the module doc). Safe to call once."""
    try:
        real = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:
        return
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)
    stream = os.fdopen(os.dup(real), "w", buffering=1, encoding=sys.stderr.encoding or "utf-8",
                       errors="backslashreplace")
    sys.stderr = stream

    def pump() -> None:
        with open(read_end, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not NATIVE_LOG_LINE.match(line):
                        os.write(real, line + b"\n")
            if pending and not NATIVE_LOG_LINE.match(pending):
                os.write(real, pending)

    thread = threading.Thread(target=pump, name="native-log-filter", daemon=True)
    thread.start()

    def restore() -> None:
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
        os.dup2(real, 2)  # closes the pipe's last write end: the reader drains it and stops
        thread.join(timeout=2.0)

    atexit.register(restore)
