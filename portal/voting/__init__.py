"""Voting rounds: verified households support proposals or share a participatory budget."""

from flask import Blueprint

bp = Blueprint("voting", __name__)
