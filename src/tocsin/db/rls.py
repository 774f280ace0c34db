"""Row Level Security for Supabase: every tenant row belongs to its org's members.

Tocsin's own processes connect as the tables' owner (or Supabase's
``service_role``), which RLS does not restrict; the policies confine what a
signed-in Supabase user (``auth.uid()``) can read and write through the
Data API. On a plain PostgreSQL without Supabase's ``auth`` schema, a minimal
``auth.uid()`` that reads the request's JWT claim the way Supabase does is
created, so the same migrations run everywhere.
"""

from __future__ import annotations

AUTH_STUB = """
DO $tocsin$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'auth') THEN
        CREATE SCHEMA auth;
    END IF;
    IF to_regprocedure('auth.uid()') IS NULL THEN
        CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $fn$
            SELECT nullif(coalesce(
                current_setting('request.jwt.claim.sub', true),
                nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
            ), '')::uuid
        $fn$;
    END IF;
END
$tocsin$
"""

# SECURITY DEFINER: a policy on org_members that queried org_members directly
# would recurse; the function runs as the owner, whom RLS does not restrict.
USER_ORGS_FUNCTION = """
CREATE FUNCTION tocsin_user_orgs() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $fn$
    SELECT org_id FROM org_members WHERE user_id = auth.uid()
$fn$
"""


def enable_statements(table: str, org_column: str = "org_id") -> list[str]:
    check = f"{org_column} IN (SELECT tocsin_user_orgs())"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY {table}_org_members ON {table} FOR ALL "
        f"USING ({check}) WITH CHECK ({check})",
    ]


def disable_statements(table: str) -> list[str]:
    return [
        f"DROP POLICY IF EXISTS {table}_org_members ON {table}",
        f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
    ]
