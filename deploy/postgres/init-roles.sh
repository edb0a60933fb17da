#!/usr/bin/env bash
# Runs once, on a new data directory: the postgres image runs (or sources) the scripts in
# /docker-entrypoint-initdb.d after it creates $POSTGRES_DB. compose.yaml mounts this file
# there and roles.sql at /etc/votemesh/roles.sql; roles.sql reads the five role passwords
# (VOTEMESH_*_DB_PASSWORD) from the environment. No `set -u` or `exit` here, because the
# image sources scripts that are not executable (it runs with `set -e` itself).
set -e
: "${VOTEMESH_USER_DB_PASSWORD:?}" "${VOTEMESH_CANDIDATE_DB_PASSWORD:?}" "${VOTEMESH_VOTING_DB_PASSWORD:?}" \
  "${VOTEMESH_RESULT_DB_PASSWORD:?}" "${VOTEMESH_NOTIFY_DB_PASSWORD:?}" "${POSTGRES_REPLICATION_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  --file /etc/votemesh/roles.sql

# postgres-replica clones this server with pg_basebackup as `replicator`, a role that may
# replicate and do nothing else (not the superuser). The image's pg_hba.conf admits
# replication connections from localhost only.
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v password="$POSTGRES_REPLICATION_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE replicator' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'replicator') \gexec
ALTER ROLE replicator WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
SQL
printf 'host replication replicator all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
