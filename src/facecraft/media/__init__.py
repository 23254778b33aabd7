"""facecraft.media (see DESIGN.md)."""
