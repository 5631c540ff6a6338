"""voting: on PostgreSQL, a ballot change in one statement (function rete_ballot)

A vote took four round trips to PostgreSQL (BEGIN, the locking read, the write, COMMIT), and
a statement of its own cannot take the household's lock and then count the ballot as it is
after the lock (the whole statement reads one snapshot, taken before it waited). A PL/pgSQL
function can: each of its statements reads a fresh snapshot. `rete_ballot` reads and locks
exactly what `portal.voting.services._ballot_read` does, counts the ballot after the lock,
writes the vote (or removes it) and moves both counters only when every rule that
`services._check` and `services._refusal` apply holds, and returns the state it read so that
the service can tell the family why not. Called in autocommit, it is one round trip and its own
transaction. SQLite keeps the statements of the service (its BEGIN IMMEDIATE locks the file).

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: The columns of `services._ballot_read`, then the ballot after the lock and the outcome.
RESULT = """
    id integer, title varchar, opens_at timestamp, closes_at timestamp, rule varchar,
    max_supports integer, threshold integer, budget_cents bigint, table_comune_id integer,
    cost_cents bigint, entry_proposal integer, vote_count integer, proposal_state varchar,
    hidden_at timestamp, proposal_title varchar, household_id integer,
    household_status varchar, household_comune_id integer, anonymised_at timestamp,
    user_id integer, used_n bigint, used_cents bigint, chosen boolean, changed boolean,
    new_count integer
"""

_COLUMNS = """
    r.id AS id, r.title AS title, r.opens_at AS opens_at, r.closes_at AS closes_at,
    r.rule AS rule, r.max_supports AS max_supports, r.threshold AS threshold,
    r.budget_cents AS budget_cents, t.comune_id AS table_comune_id, e.cost_cents AS cost_cents,
    e.proposal_id AS entry_proposal, e.vote_count AS vote_count, p.state AS proposal_state,
    p.hidden_at AS hidden_at, p.title AS proposal_title, h.id AS household_id,
    h.status AS household_status, h.comune_id AS household_comune_id,
    h.anonymised_at AS anonymised_at"""

FUNCTION = f"""
CREATE FUNCTION rete_ballot(p_withdraw boolean, p_rid integer, p_pid integer, p_hid integer,
                            p_uid integer, p_token_hash varchar, p_oldest timestamp,
                            p_now timestamp)
RETURNS TABLE ({RESULT})
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  s record;
  v_n bigint;
  v_cents bigint;
  v_chosen boolean;
  v_changed boolean := false;
  v_count integer;
BEGIN
  -- The household's row FOR UPDATE (one ballot change at a time per household), the
  -- proposal's FOR KEY SHARE (a merge, which locks it FOR UPDATE, waits for the votes).
  IF p_token_hash IS NULL THEN
    SELECT {_COLUMNS}, p_uid AS user_id
      INTO s
      FROM voting_rounds r
      JOIN tables t ON t.id = r.table_id
      JOIN households h ON h.id = p_hid
      JOIN proposals p ON p.id = p_pid
      LEFT JOIN voting_entries e ON e.round_id = r.id AND e.proposal_id = p_pid
     WHERE r.id = p_rid
       FOR UPDATE OF h FOR KEY SHARE OF p;
  ELSE
    -- The voter is the household of the user whose live login session has this hash.
    SELECT {_COLUMNS}, u.id AS user_id
      INTO s
      FROM voting_rounds r
      JOIN tables t ON t.id = r.table_id
      JOIN login_sessions ls ON ls.token_hash = p_token_hash AND ls.created_at > p_oldest
      JOIN users u ON u.id = ls.user_id AND u.deleted_at IS NULL
      JOIN households h ON h.id = u.household_id
      JOIN proposals p ON p.id = p_pid
      LEFT JOIN voting_entries e ON e.round_id = r.id AND e.proposal_id = p_pid
     WHERE r.id = p_rid
       FOR UPDATE OF h FOR KEY SHARE OF p;
  END IF;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  -- A new statement, a new snapshot: the ballot as it is now that it is locked.
  SELECT count(*), coalesce(sum(be.cost_cents), 0),
         coalesce(bool_or(v.proposal_id = p_pid), false)
    INTO v_n, v_cents, v_chosen
    FROM votes v
    JOIN voting_entries be ON be.round_id = v.round_id AND be.proposal_id = v.proposal_id
   WHERE v.round_id = p_rid AND v.household_id = s.household_id;
  IF NOT p_withdraw THEN
    -- services._check, then services._refusal: the same rules, in the same terms.
    IF s.entry_proposal IS NOT NULL
       AND s.opens_at <= p_now AND p_now < s.closes_at
       AND s.household_status = 'verified' AND s.anonymised_at IS NULL
       AND (s.table_comune_id IS NULL OR s.household_comune_id = s.table_comune_id)
       AND s.proposal_state = 'published' AND s.hidden_at IS NULL
       AND NOT v_chosen
       -- (in parentheses: PL/pgSQL would end the IF's condition at the CASE's first THEN)
       AND (CASE s.rule
              WHEN 'supports' THEN v_n < s.max_supports
              WHEN 'budget' THEN v_cents + coalesce(s.cost_cents, 0) <= s.budget_cents
              ELSE false
            END)
    THEN
      INSERT INTO votes (round_id, household_id, proposal_id, user_id, created_at)
      VALUES (p_rid, s.household_id, p_pid, s.user_id, p_now)
      ON CONFLICT (round_id, household_id, proposal_id) DO NOTHING;
      IF FOUND THEN
        v_changed := true;
        UPDATE voting_entries SET vote_count = vote_count + 1
         WHERE round_id = p_rid AND proposal_id = p_pid
        RETURNING vote_count INTO v_count;
        UPDATE proposals SET support_count = support_count + 1 WHERE id = p_pid;
      END IF;
    END IF;
  ELSIF s.opens_at <= p_now AND p_now < s.closes_at THEN
    DELETE FROM votes
     WHERE round_id = p_rid AND proposal_id = p_pid AND household_id = s.household_id;
    IF FOUND THEN
      v_changed := true;
      UPDATE voting_entries SET vote_count = vote_count - 1
       WHERE round_id = p_rid AND proposal_id = p_pid
      RETURNING vote_count INTO v_count;
      UPDATE proposals SET support_count = support_count - 1 WHERE id = p_pid;
    END IF;
  END IF;
  IF NOT v_changed THEN
    SELECT be.vote_count INTO v_count
      FROM voting_entries be WHERE be.round_id = p_rid AND be.proposal_id = p_pid;
  END IF;
  RETURN QUERY SELECT
    s.id, s.title, s.opens_at, s.closes_at, s.rule, s.max_supports, s.threshold,
    s.budget_cents, s.table_comune_id, s.cost_cents, s.entry_proposal, s.vote_count,
    s.proposal_state, s.hidden_at, s.proposal_title, s.household_id, s.household_status,
    s.household_comune_id, s.anonymised_at, s.user_id, v_n, v_cents, v_chosen, v_changed,
    v_count;
END
$$
"""

SIGNATURE = ("rete_ballot(boolean, integer, integer, integer, integer, varchar, timestamp, "
             "timestamp)")


def upgrade():
    if op.get_context().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade():
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION {SIGNATURE}")
