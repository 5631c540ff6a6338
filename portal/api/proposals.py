"""API routes of the proposals module (filled in by that module)."""
