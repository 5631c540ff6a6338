"""Family Card: merchants, offers, purchases (merchants only, so far)."""
