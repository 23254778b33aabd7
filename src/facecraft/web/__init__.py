"""facecraft.web (see DESIGN.md)."""
