"""API routes of the catalogue module (filled in by that module)."""
