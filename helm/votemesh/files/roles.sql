-- votemesh's database roles: one LOGIN role per service, owning that service's schema and
-- nothing else. Run it as a superuser (or a role with CREATEROLE that owns the database),
-- connected to the votemesh database, with psql 15 or newer:
--
--   VOTEMESH_USER_DB_PASSWORD=… VOTEMESH_CANDIDATE_DB_PASSWORD=… VOTEMESH_VOTING_DB_PASSWORD=… \
--   VOTEMESH_RESULT_DB_PASSWORD=… VOTEMESH_NOTIFY_DB_PASSWORD=… \
--   psql -v ON_ERROR_STOP=1 -d votemesh -f roles.sql
--
-- It is safe to run again: it creates what is missing and resets the passwords. The services
-- connect as their role (postgres://votemesh_user:…@host/votemesh for svc-user, and so on), so
-- keep the passwords URL-safe (e.g. `openssl rand -hex 32`). compose.yaml runs this file on a
-- new data directory (deploy/postgres/init-roles.sh); helm/votemesh/files/roles.sql is the same
-- file for the chart, and scripts/check-deploy.sh checks that the two stay equal.
\set ON_ERROR_STOP on

\getenv user_password VOTEMESH_USER_DB_PASSWORD
\getenv candidate_password VOTEMESH_CANDIDATE_DB_PASSWORD
\getenv voting_password VOTEMESH_VOTING_DB_PASSWORD
\getenv result_password VOTEMESH_RESULT_DB_PASSWORD
\getenv notify_password VOTEMESH_NOTIFY_DB_PASSWORD
\if :{?user_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'VOTEMESH_USER_DB_PASSWORD is not set'; END $$;
\endif
\if :{?candidate_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'VOTEMESH_CANDIDATE_DB_PASSWORD is not set'; END $$;
\endif
\if :{?voting_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'VOTEMESH_VOTING_DB_PASSWORD is not set'; END $$;
\endif
\if :{?result_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'VOTEMESH_RESULT_DB_PASSWORD is not set'; END $$;
\endif
\if :{?notify_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'VOTEMESH_NOTIFY_DB_PASSWORD is not set'; END $$;
\endif

BEGIN;

-- Nobody gets anything by default: no objects in public, no connecting, no temporary tables.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec

-- The roles. CREATE ROLE only when missing; the password is (re)set either way.
SELECT 'CREATE ROLE votemesh_user LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'votemesh_user') \gexec
SELECT 'CREATE ROLE votemesh_candidate LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'votemesh_candidate') \gexec
SELECT 'CREATE ROLE votemesh_voting LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'votemesh_voting') \gexec
SELECT 'CREATE ROLE votemesh_result LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'votemesh_result') \gexec
SELECT 'CREATE ROLE votemesh_notify LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'votemesh_notify') \gexec
ALTER ROLE votemesh_user LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'user_password';
ALTER ROLE votemesh_candidate LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'candidate_password';
ALTER ROLE votemesh_voting LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'voting_password';
ALTER ROLE votemesh_result LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'result_password';
ALTER ROLE votemesh_notify LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'notify_password';

-- Each schema belongs to its service's role; no other role has USAGE on it.
CREATE SCHEMA IF NOT EXISTS svc_user AUTHORIZATION votemesh_user;
CREATE SCHEMA IF NOT EXISTS svc_candidate AUTHORIZATION votemesh_candidate;
CREATE SCHEMA IF NOT EXISTS svc_voting AUTHORIZATION votemesh_voting;
CREATE SCHEMA IF NOT EXISTS svc_result AUTHORIZATION votemesh_result;
CREATE SCHEMA IF NOT EXISTS svc_notify AUTHORIZATION votemesh_notify;

-- A schema made before the roles existed (by one shared user): hand it and its tables (with
-- their indexes and owned sequences) to the service's role.
DO $$
DECLARE
  pair record;
  relation record;
BEGIN
  FOR pair IN SELECT * FROM (VALUES ('svc_user', 'votemesh_user'), ('svc_candidate', 'votemesh_candidate'),
      ('svc_voting', 'votemesh_voting'), ('svc_result', 'votemesh_result'), ('svc_notify', 'votemesh_notify'))
      AS pairs (schema_name, role_name)
  LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', pair.schema_name, pair.role_name);
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', pair.schema_name);
    FOR relation IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = pair.schema_name AND c.relkind IN ('r', 'p', 'v', 'm')
          AND pg_get_userbyid(c.relowner) <> pair.role_name
    LOOP
      EXECUTE format('ALTER %s %I.%I OWNER TO %I',
        CASE relation.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
        pair.schema_name, relation.relname, pair.role_name);
    END LOOP;
  END LOOP;
END $$;

-- Connecting, for the five roles only; no CREATE on the database: each service creates its
-- schema only when it is missing (crates/kit/src/db.rs), and here it already exists.
SELECT format('GRANT CONNECT ON DATABASE %I TO votemesh_user, votemesh_candidate, votemesh_voting, votemesh_result, votemesh_notify',
  current_database()) \gexec

COMMIT;
