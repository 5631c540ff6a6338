"""Panels and filters the proposals module adds to the rest of the portal."""


def init_app(app) -> None:
    from portal.proposals.services import state_label
    from portal.proposals.themes import theme_label

    app.jinja_env.filters.setdefault("proposal_state", state_label)
    app.jinja_env.filters.setdefault("theme_label", theme_label)
