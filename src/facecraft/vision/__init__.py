"""facecraft.vision (see DESIGN.md)."""
