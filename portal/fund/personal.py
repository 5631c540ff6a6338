"""The ledger's personal data: none about portal users, and donors' names kept apart.

The ledger never points at a user or a household: a grant names what it pays in `ref`
("application:12"), whose personal data the support applications hold and purge. A donor is
not a portal account: the name a fund manager types for a donor who wished to be named lives
in `fund_donations`, beside the immutable transaction, shown only to the fund's managers and
never on public pages, the API or the CSV.
"""

from __future__ import annotations

from flask import Flask

from portal.core.personal import declare_not_personal
from portal.fund.models import (
    Fund,
    FundAccount,
    FundCampaign,
    FundDonation,
    FundEntry,
    FundMonthly,
    FundTransaction,
)

LEDGER = ("Public accounts of a fund: amounts, categories and memos about money, with no link "
          "to a user or household.")


def init_app(app: Flask) -> None:
    for model in (Fund, FundAccount, FundCampaign, FundEntry, FundMonthly, FundTransaction):
        declare_not_personal(app, model, LEDGER)
    declare_not_personal(
        app, FundDonation,
        "The donor's name is typed by a fund manager for a donor who is not a portal account "
        "(or left empty: anonymous); only the fund's managers see it, and they can erase it.")
