"""Pages of the proposals module (being built: see issue 4)."""

from flask import abort

from portal import authz
from portal.proposals import bp, services


@bp.get("/proposte")
@authz.public
def index():
    return "Proposte", 200


@bp.get("/proposte/<int:proposal_id>")
@authz.public
def detail(proposal_id: int):
    proposal = services.get(proposal_id) or abort(404)
    authz.require("proposal.view", proposal)
    return proposal.title, 200


@bp.get("/proposte/moderazione")
@authz.login_required
def queue():
    return "Moderazione", 200


@bp.get("/account/proposte")
@authz.login_required
def mine():
    return "Le mie proposte", 200
