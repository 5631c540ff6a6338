"""Who may act on households, and who may take part at all."""

from flask import abort, current_app, make_response, render_template, url_for
from flask_login import current_user

from portal import authz
from portal.authz import Role
from portal.forms import EmptyForm
from portal.web import wants_partial


@authz.policy("household.verify")
def verify_household(user, household) -> bool:
    return authz.is_coordinator(user) or authz.has_role(user, Role.COMUNE_OFFICER,
                                                        household.comune_id)


@authz.policy("household.manage")
def manage_household(user, household) -> bool:
    """Members edit their own household."""
    return household is not None and user.household_id == household.id


def require_confirmed() -> None:
    """Stop the view (403) unless the current user may take part (`User.can_take_part`): the
    answer is the page that says why, with the button that mails the link again. Views that
    let a user comment, report, propose, vote or invite call it first, before any change."""
    if current_user.can_take_part:
        return
    if wants_partial():  # htmx swaps no 403: it loads the page that explains instead
        response = current_app.response_class(status=403)
        response.headers["HX-Redirect"] = url_for("accounts.confirm_first")
    else:
        response = make_response(
            render_template("accounts/confirm_first.html", form=EmptyForm()), 403)
    abort(response)
