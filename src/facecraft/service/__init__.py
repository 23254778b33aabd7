"""facecraft.service (see DESIGN.md)."""
