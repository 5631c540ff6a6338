"""Who may act on tables, meetings, minutes and projects."""

from portal import authz
from portal.authz import Role
from portal.tables.models import MeetingStatus, ProjectStatus


def _chair(user, table_id: int) -> bool:
    return authz.has_role(user, Role.TABLE_CHAIR, table_id)


def _secretary(user, table_id: int) -> bool:
    return authz.has_role(user, Role.TABLE_SECRETARY, table_id)


def _seated(user, table_id: int) -> bool:
    return any(authz.has_role(user, r, table_id)
               for r in (Role.TABLE_MEMBER, Role.TABLE_CHAIR, Role.TABLE_SECRETARY))


@authz.policy("tables.manage_members")
def manage_members(user, table) -> bool:
    """The coordinator, the table's chair, or an officer of the table's Comune."""
    return (authz.is_coordinator(user) or _chair(user, table.id)
            or (table.comune_id is not None
                and authz.has_role(user, Role.COMUNE_OFFICER, table.comune_id)))


@authz.policy("tables.manage_meetings")
def manage_meetings(user, table) -> bool:
    """Chair and secretary schedule meetings, set the agenda, convene, record attendance."""
    return authz.is_coordinator(user) or _chair(user, table.id) or _secretary(user, table.id)


@authz.policy("tables.view_meeting")
@authz.anonymous_ok
def view_meeting(user, meeting) -> bool:
    """Convened and cancelled meetings are public; drafts only for who prepares them."""
    if meeting.status != MeetingStatus.DRAFT:
        return True
    return getattr(user, "is_authenticated", False) and manage_meetings(user, meeting.table)


@authz.policy("tables.draft_minutes")
def draft_minutes(user, meeting) -> bool:
    return _secretary(user, meeting.table_id)


@authz.policy("tables.read_draft")
def read_draft(user, meeting) -> bool:
    """Every member of the table sees the draft and comments on it."""
    return _seated(user, meeting.table_id)


@authz.policy("tables.approve_minutes")
def approve_minutes(user, meeting) -> bool:
    return _chair(user, meeting.table_id)


@authz.policy("tables.publish_minutes")
def publish_minutes(user, meeting) -> bool:
    return _chair(user, meeting.table_id) or _secretary(user, meeting.table_id)


@authz.policy("tables.update_project")
def update_project(user, project) -> bool:
    """The responsible office: the Comune's officers, the table's chair and secretary."""
    return (authz.is_coordinator(user) or _chair(user, project.table_id)
            or _secretary(user, project.table_id)
            or (project.comune_id is not None
                and authz.has_role(user, Role.COMUNE_OFFICER, project.comune_id)))


@authz.policy("tables.create_practice")
def create_practice(user, project) -> bool:
    return (project.status == ProjectStatus.IMPLEMENTED and project.practice_id is None
            and update_project(user, project))
