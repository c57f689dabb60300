"""kubemu."""
