"""facecraft.faces (see DESIGN.md)."""
