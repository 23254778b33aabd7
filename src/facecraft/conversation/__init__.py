"""facecraft.conversation (see DESIGN.md)."""
