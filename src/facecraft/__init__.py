"""facecraft: photorealistic talking Faces built on a CPU from a one-minute video or a photo."""

__version__ = "0.1.0"
