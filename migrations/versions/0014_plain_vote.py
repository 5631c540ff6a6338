"""voting: the vote written by the application on both databases (rete_ballot dropped)

A vote is now cast and withdrawn by `portal.voting.services` in the request's ORM
transaction, the same code on SQLite and PostgreSQL (the household's row locked FOR UPDATE,
the rules checked in Python, the unique constraint as the last guarantee). The PL/pgSQL
function `rete_ballot`, a second copy of those rules, goes. The downgrade creates it again as
migration 0013 left it (its text is kept here: no migration imports another).

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SIGNATURE = ("rete_ballot(boolean, integer, integer, integer, integer, varchar, timestamp, "
             "timestamp)")

#: `rete_ballot` as migrations 0010 and 0013 left it (the counter in proposal_supports).
BALLOT_FUNCTION = """
CREATE FUNCTION rete_ballot(p_withdraw boolean, p_rid integer, p_pid integer, p_hid integer,
                            p_uid integer, p_token_hash varchar, p_oldest timestamp,
                            p_now timestamp)
RETURNS TABLE (
    id integer, title varchar, opens_at timestamp, closes_at timestamp, rule varchar,
    max_supports integer, threshold integer, budget_cents bigint, table_comune_id integer,
    cost_cents bigint, entry_proposal integer, vote_count integer, proposal_state varchar,
    hidden_at timestamp, proposal_title varchar, household_id integer,
    household_status varchar, household_comune_id integer, anonymised_at timestamp,
    user_id integer, used_n bigint, used_cents bigint, chosen boolean, changed boolean,
    new_count integer
)
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
    SELECT 
    r.id AS id, r.title AS title, r.opens_at AS opens_at, r.closes_at AS closes_at,
    r.rule AS rule, r.max_supports AS max_supports, r.threshold AS threshold,
    r.budget_cents AS budget_cents, t.comune_id AS table_comune_id, e.cost_cents AS cost_cents,
    e.proposal_id AS entry_proposal, e.vote_count AS vote_count, p.state AS proposal_state,
    p.hidden_at AS hidden_at, p.title AS proposal_title, h.id AS household_id,
    h.status AS household_status, h.comune_id AS household_comune_id,
    h.anonymised_at AS anonymised_at, p_uid AS user_id
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
    SELECT 
    r.id AS id, r.title AS title, r.opens_at AS opens_at, r.closes_at AS closes_at,
    r.rule AS rule, r.max_supports AS max_supports, r.threshold AS threshold,
    r.budget_cents AS budget_cents, t.comune_id AS table_comune_id, e.cost_cents AS cost_cents,
    e.proposal_id AS entry_proposal, e.vote_count AS vote_count, p.state AS proposal_state,
    p.hidden_at AS hidden_at, p.title AS proposal_title, h.id AS household_id,
    h.status AS household_status, h.comune_id AS household_comune_id,
    h.anonymised_at AS anonymised_at, u.id AS user_id
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
        UPDATE proposal_supports SET support_count = support_count + 1
         WHERE proposal_id = p_pid;
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
      UPDATE proposal_supports SET support_count = support_count - 1
         WHERE proposal_id = p_pid;
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


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(BALLOT_FUNCTION)
