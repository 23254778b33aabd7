"""facecraft.speech (see DESIGN.md)."""
