"""core: the audit log drops IP addresses after AUDIT_IP_DAYS

The audit log stays append-only; the triggers now also let an entry's `ip` become NULL, and
nothing else change, so that `flask audit purge-ips` can drop addresses older than the period
the portal keeps them (see portal/core/services.purge_audit_ips).

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND (NEW.actor_id IS NULL OR NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id)
     AND (NEW.ip IS NULL OR NEW.ip IS NOT DISTINCT FROM OLD.ip)
     AND (NEW.id, NEW.at, NEW.action, NEW.object_type, NEW.object_id, NEW.details::text)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.at, OLD.action, OLD.object_type, OLD.object_id, OLD.details::text) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only';
END $$ LANGUAGE plpgsql"""

_PG_FUNCTION_BEFORE = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
     AND (NEW.id, NEW.at, NEW.action, NEW.object_type, NEW.object_id, NEW.ip,
          NEW.details::text)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.at, OLD.action, OLD.object_type, OLD.object_id, OLD.ip,
          OLD.details::text) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only';
END $$ LANGUAGE plpgsql"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        return
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    op.execute("CREATE TRIGGER audit_log_no_update BEFORE UPDATE OF id, at, action, "
               "object_type, object_id, details ON audit_log "
               "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
    # The address may only be dropped, never written.
    op.execute("CREATE TRIGGER audit_log_ip_dropped_only BEFORE UPDATE OF ip ON audit_log "
               "WHEN NEW.ip IS NOT NULL "
               "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION_BEFORE)
        return
    op.execute("DROP TRIGGER IF EXISTS audit_log_ip_dropped_only")
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    op.execute("CREATE TRIGGER audit_log_no_update BEFORE UPDATE OF id, at, action, "
               "object_type, object_id, ip, details ON audit_log "
               "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
