"""One router per resource (faces/replicas, uploads, validation, videos, media).

PALs and conversations get their own routers here later.
"""
