"""API routes of the tables module (filled in by that module)."""
