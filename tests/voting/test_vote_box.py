"""The vote box answered to an htmx vote (portal/voting/views.vote_box_html) is the template's:
voting/_vote.html with the ballot summary of _ballot.html, byte for byte, for both rules,
voted or not, in Italian and English, with the title and the return link escaped."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest


@pytest.mark.parametrize("lang", ["it", "en"])
def test_the_vote_box_is_the_template(app, lang):
    from flask import g, render_template
    from flask_babel import refresh

    from portal.i18n import LANG_COOKIE
    from portal.voting.models import RoundRule, RoundState
    from portal.voting.views import vote_box_html

    title = 'Pedibus <per> "tutti" & subito'
    cases = []
    for rule in (RoundRule.SUPPORTS, RoundRule.BUDGET):
        for voted in (True, False):
            for count in (0, 1, 12345):
                for left in (0, 1, 2):
                    summary = (dict(remaining_supports=left, remaining_cents=None)
                               if rule == RoundRule.SUPPORTS else
                               dict(remaining_supports=None, remaining_cents=left * 123456))
                    cases.append((rule, voted, count, summary))
    with app.test_request_context("/votazioni/3/proposte/7/voto", method="POST",
                                  headers={"Cookie": f"{LANG_COOKIE}={lang}"}):
        refresh()
        g.pop("_rete_translations", None)
        g.pop("_rete_domain_translations", None)
        for rule, voted, count, summary in cases:
            round_ = NS(id=3, rule=rule, max_supports=3, budget_cents=500000,
                        opens_at=None)
            next_url = '/proposte?tema=scuola&"x"=<y>'
            context = dict(round=round_, proposal_id=7, state=RoundState.OPEN,
                           entry=NS(vote_count=count, proposal=NS(title=title)), voted=voted,
                           problem=None, error=None, logged_in=True)
            python = str(vote_box_html(round_, 7, count, title, voted, next_url, summary))
            template = render_template("voting/_vote.html", v=context, oob=True,
                                       next_url=next_url, summary=summary)
            assert python == template
            assert "&lt;per&gt;" in python and "<per>" not in python
            assert ('action="/votazioni/3/proposte/7/ritira"' in python) == voted
            # Translated: the Italian words appear only in Italian.
            assert ("sostegni" in python) == (lang == "it" and rule == RoundRule.SUPPORTS)
