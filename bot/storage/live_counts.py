"""How many cases are in play, per workspace, owner, status and whether a follow-up is
set, kept by triggers on `cases` in the transaction that writes the case (whatever
writes it: the store, a bulk copy, a migration).

The leads' Home reads the team's workload and its count of overdue cases from here
instead of counting the cases in play (50,000 at 1,000,000 cases: about 10 ms each on
SQLite). Counts are exact; a case with no owner is kept under the owner ''.

On PostgreSQL, whose writers run side by side, a change that moves a case from one row
to another takes the two rows in key order, so two such changes never wait on each
other in a cycle.
"""

from __future__ import annotations

# A case counts while it is not closed (the lists' "status != 'closed'").
_KEY = ("team_id", "owner_id", "status", "followup")
_OF = "{r}.team_id, COALESCE({r}.owner_id, ''), {r}.status, " \
      "CASE WHEN {r}.next_followup_at IS NULL THEN 0 ELSE 1 END"
_SAME_ROW = ("team_id = {r}.team_id AND owner_id = COALESCE({r}.owner_id, '') AND "
             "status = {r}.status AND followup = "
             "CASE WHEN {r}.next_followup_at IS NULL THEN 0 ELSE 1 END")
_CHANGED = ("(OLD.status != 'closed' OR NEW.status != 'closed') AND "
            "(OLD.status {ne} NEW.status OR OLD.owner_id {ne} NEW.owner_id OR "
            "(OLD.next_followup_at IS NULL) != (NEW.next_followup_at IS NULL))")
TABLE = ("CREATE TABLE live_counts (team_id TEXT NOT NULL, owner_id TEXT NOT NULL, "
         "status TEXT NOT NULL, followup INTEGER NOT NULL, n INTEGER NOT NULL, "
         "PRIMARY KEY (team_id, owner_id, status, followup))")
FILL = (f"INSERT INTO live_counts ({', '.join(_KEY)}, n) SELECT {_OF.format(r='cases')}, "
        "COUNT(*) FROM cases WHERE status != 'closed' GROUP BY 1, 2, 3, 4")
_ADD = (f"INSERT INTO live_counts ({', '.join(_KEY)}, n) SELECT {{of}}, 1 {{where}} "
        "ON CONFLICT (team_id, owner_id, status, followup) DO UPDATE SET "
        "n = live_counts.n + 1")
_TAKE = "UPDATE live_counts SET n = n - 1 WHERE {same}"

_ADD_NEW = _ADD.format(of=_OF.format(r="NEW"), where="WHERE NEW.status != 'closed'")
_TAKE_OLD = _TAKE.format(same=_SAME_ROW.format(r="OLD")) + " AND OLD.status != 'closed'"
SQLITE = (
    TABLE,
    "CREATE TRIGGER live_counts_insert AFTER INSERT ON cases WHEN NEW.status != 'closed' "
    f"BEGIN {_ADD_NEW}; END",
    "CREATE TRIGGER live_counts_delete AFTER DELETE ON cases WHEN OLD.status != 'closed' "
    f"BEGIN {_TAKE_OLD}; END",
    "CREATE TRIGGER live_counts_update AFTER UPDATE OF status, owner_id, next_followup_at "
    f" ON cases WHEN {_CHANGED.format(ne='IS NOT')} BEGIN "
    f"{_TAKE_OLD}; {_ADD_NEW}; END",
    FILL,
)

POSTGRES = f"""
{TABLE};
CREATE FUNCTION live_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_key text[];
  new_key text[];
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.status <> 'closed' THEN
    old_key := ARRAY[OLD.team_id, COALESCE(OLD.owner_id, ''), OLD.status,
                     CASE WHEN OLD.next_followup_at IS NULL THEN '0' ELSE '1' END];
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.status <> 'closed' THEN
    new_key := ARRAY[NEW.team_id, COALESCE(NEW.owner_id, ''), NEW.status,
                     CASE WHEN NEW.next_followup_at IS NULL THEN '0' ELSE '1' END];
  END IF;
  IF old_key IS NOT DISTINCT FROM new_key THEN
    RETURN NULL;
  END IF;
  -- the two rows in key order (the order concurrent writers lock them in)
  IF old_key IS NOT NULL AND (new_key IS NULL OR old_key < new_key) THEN
    UPDATE live_counts SET n = n - 1 WHERE team_id = old_key[1] AND owner_id = old_key[2]
      AND status = old_key[3] AND followup = old_key[4]::int;
    old_key := NULL;
  END IF;
  IF new_key IS NOT NULL THEN
    INSERT INTO live_counts (team_id, owner_id, status, followup, n)
      VALUES (new_key[1], new_key[2], new_key[3], new_key[4]::int, 1)
      ON CONFLICT (team_id, owner_id, status, followup) DO UPDATE SET n = live_counts.n + 1;
  END IF;
  IF old_key IS NOT NULL THEN
    UPDATE live_counts SET n = n - 1 WHERE team_id = old_key[1] AND owner_id = old_key[2]
      AND status = old_key[3] AND followup = old_key[4]::int;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER live_counts_insert AFTER INSERT ON cases FOR EACH ROW
  WHEN (NEW.status <> 'closed') EXECUTE FUNCTION live_counts_keep();
CREATE TRIGGER live_counts_delete AFTER DELETE ON cases FOR EACH ROW
  WHEN (OLD.status <> 'closed') EXECUTE FUNCTION live_counts_keep();
CREATE TRIGGER live_counts_update AFTER UPDATE OF status, owner_id, next_followup_at
  ON cases FOR EACH ROW WHEN ({_CHANGED.format(ne='IS DISTINCT FROM')})
  EXECUTE FUNCTION live_counts_keep();
{FILL};
"""

# -- reading ------------------------------------------------------------------------------
WORKLOAD = ("SELECT NULLIF(owner_id, ''), SUM(n) FROM live_counts WHERE team_id = ? AND "
            "status = 'open' GROUP BY owner_id HAVING SUM(n) != 0 "
            "ORDER BY SUM(n) DESC, owner_id")
# The follow-ups still to come are counted up to PROBE of them: when fewer, the overdue
# ones are the cases with a follow-up less those (one statement, one snapshot).
PROBE = 1000
OVERDUE = ("SELECT (SELECT COALESCE(SUM(n), 0) FROM live_counts WHERE team_id = ? AND "
           "followup = 1), (SELECT COUNT(*) FROM (SELECT 1 FROM cases WHERE team_id = ? "
           "AND status != 'closed' AND next_followup_at > ? LIMIT ?) AS later)")
