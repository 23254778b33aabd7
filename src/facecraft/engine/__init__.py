"""facecraft.engine (see DESIGN.md)."""
