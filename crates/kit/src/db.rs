//! Database connections through sea-orm, for PostgreSQL and SQLite alike, and a small
//! migration runner that is safe when several instances start at once.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    QueryResult, Statement, TransactionTrait, Value,
};

/// One schema change, written once for both backends. Where their dialects differ the SQL
/// says so with a token that [`for_backend`] fills in: `{bigint}`, `{blob}`, `{bool}`,
/// `{false}`, and `{keyed}` after a table's closing parenthesis for a SQLite table stored by
/// its primary key, with no rowid counting its insertions. A recorded `version` is never run again, so a version keeps its meaning.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub statements: &'static [&'static str],
    /// Run on PostgreSQL only: settings SQLite has no counterpart for.
    pub postgres_only: &'static [&'static str],
    /// Run on SQLite only: what PostgreSQL has no need of (e.g. rebuilding a table
    /// `WITHOUT ROWID`).
    pub sqlite_only: &'static [&'static str],
}

/// Each dialect token with its PostgreSQL and SQLite spelling.
const DIALECT: &[(&str, &str, &str)] = &[
    ("{bigint}", "BIGINT", "INTEGER"),
    ("{blob}", "BYTEA", "BLOB"),
    ("{bool}", "BOOLEAN", "INTEGER"),
    ("{false}", "FALSE", "0"),
    ("{keyed}", "", "WITHOUT ROWID"),
];

/// `sql` with its dialect tokens (see [`Migration`]) spelled for `backend`.
pub fn for_backend(backend: DatabaseBackend, sql: &str) -> String {
    DIALECT
        .iter()
        .fold(sql.to_owned(), |sql, (token, postgres, sqlite)| {
            let spelling = match backend {
                DatabaseBackend::Postgres => postgres,
                _ => sqlite,
            };
            sql.replace(token, spelling)
        })
}

/// A hand-written statement. Every statement is written once, with PostgreSQL's numbered
/// placeholders (`$1`, `$2`, …): SQLite reads `$n` as the n-th bound value too, so the same
/// text serves both backends.
pub fn statement(
    backend: DatabaseBackend,
    sql: impl Into<String>,
    values: impl IntoIterator<Item = Value>,
) -> Statement {
    Statement::from_sql_and_values(backend, sql, values)
}

/// The first column of the first row `sql` answers, or `None` when it answers no row.
pub async fn scalar<T: sea_orm::TryGetable>(
    db: &impl ConnectionTrait,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> Result<Option<T>, DbErr> {
    let backend = db.get_database_backend();
    db.query_one(statement(backend, sql, values))
        .await?
        .map(|row| row.try_get_by_index::<T>(0))
        .transpose()
}

/// `COUNT(*)` as `sql` answers it (0 for no row).
pub async fn count(
    db: &impl ConnectionTrait,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> Result<u64, DbErr> {
    Ok(scalar::<i64>(db, sql, values).await?.unwrap_or(0).max(0) as u64)
}

/// `$first, $first+1, …`: `count` numbered placeholders, for an `IN (…)` list.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2), ($3, $4)`: `count` rows of `width` placeholders, for a multi-row `VALUES`.
pub fn values_rows(count: usize, width: usize) -> String {
    (0..count)
        .map(|row| format!("({})", placeholders(row * width + 1, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows per multi-row statement, well inside both backends' limits on bound values.
const ROWS_PER_STATEMENT: usize = 500;

/// Runs `{insert} VALUES (…), (…) {rest}` over `rows`, [`ROWS_PER_STATEMENT`] at a time, and
/// returns what the statements return (for a `RETURNING` in `rest`).
pub async fn insert_rows<const WIDTH: usize>(
    db: &impl ConnectionTrait,
    insert: &str,
    rest: &str,
    rows: &[[Value; WIDTH]],
) -> Result<Vec<QueryResult>, DbErr> {
    let backend = db.get_database_backend();
    let mut returned = Vec::new();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!("{insert} VALUES {} {rest}", values_rows(chunk.len(), WIDTH));
        let values = chunk.iter().flat_map(|row| row.iter().cloned());
        returned.extend(db.query_all(statement(backend, sql, values)).await?);
    }
    Ok(returned)
}

/// Connects to `url` (`postgres://…` or `sqlite://…`). On PostgreSQL the service's tables live
/// in `schema`, which is created when missing.
pub async fn connect(
    url: &str,
    schema: &str,
    max_connections: u32,
) -> anyhow::Result<DatabaseConnection> {
    let is_postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if is_postgres {
        let bootstrap = Database::connect(options(url, 1)).await?;
        // Only when missing: PostgreSQL checks CREATE on the database before IF NOT EXISTS,
        // and a least-privilege role owns its schema without holding that right.
        let exists = scalar::<i32>(
            &bootstrap,
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = $1",
            [schema.into()],
        )
        .await?
        .is_some();
        if !exists {
            tolerate_concurrent_create(
                bootstrap
                    .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                    .await,
            )?;
        }
        bootstrap.close().await?;
        let mut opts = options(url, max_connections);
        opts.set_schema_search_path(schema);
        Ok(Database::connect(opts).await?)
    } else {
        let db = Database::connect(options(url, max_connections)).await?;
        db.execute_unprepared(
            "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;",
        )
        .await?;
        Ok(db)
    }
}

/// Connects to a read replica of a PostgreSQL primary: the schema comes from the primary, so
/// nothing is created here (a standby would refuse it). Other URLs connect as [`connect`] does.
pub async fn connect_replica(
    url: &str,
    schema: &str,
    max_connections: u32,
) -> anyhow::Result<DatabaseConnection> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut opts = options(url, max_connections);
        opts.set_schema_search_path(schema);
        Ok(Database::connect(opts).await?)
    } else {
        connect(url, schema, max_connections).await
    }
}

/// `CREATE … IF NOT EXISTS` racing another instance on PostgreSQL can still fail on the
/// catalog's unique index; the object then exists, which is all the caller wanted.
fn tolerate_concurrent_create(
    result: Result<sea_orm::ExecResult, sea_orm::DbErr>,
) -> Result<(), sea_orm::DbErr> {
    match result {
        Ok(_) => Ok(()),
        // Either message, depending on where PostgreSQL notices the other instance.
        Err(error)
            if error.to_string().contains("duplicate key")
                || error.to_string().contains("already exists") =>
        {
            Ok(())
        }
        Err(error) => Err(error),
    }
}

fn options(url: &str, max_connections: u32) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    opts
}

/// Applies the migrations not yet recorded, all in one transaction. On PostgreSQL an advisory
/// lock taken first serialises instances that start together; SQLite's write lock does the same.
pub async fn migrate(db: &DatabaseConnection, migrations: &[Migration]) -> anyhow::Result<()> {
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    if backend == DatabaseBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7405001)")
            .await?;
    }
    txn.execute_unprepared(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL)",
    )
    .await?;
    for migration in migrations {
        let applied = txn
            .query_one(statement(
                backend,
                "SELECT version FROM schema_migrations WHERE version = $1",
                [migration.version.into()],
            ))
            .await?
            .is_some();
        if applied {
            continue;
        }
        let only_here = match backend {
            DatabaseBackend::Postgres => migration.postgres_only,
            _ => migration.sqlite_only,
        };
        for sql in migration.statements.iter().chain(only_here) {
            txn.execute_unprepared(&for_backend(backend, sql)).await?;
        }
        txn.execute(statement(
            backend,
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            [migration.version.into(), migration.name.into()],
        ))
        .await?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "migration applied"
        );
    }
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_tokens_are_spelled_per_backend() {
        let sql = "CREATE TABLE t (n {bigint} NOT NULL, b {blob}, f {bool} DEFAULT {false})";
        assert_eq!(
            for_backend(DatabaseBackend::Postgres, sql),
            "CREATE TABLE t (n BIGINT NOT NULL, b BYTEA, f BOOLEAN DEFAULT FALSE)"
        );
        assert_eq!(
            for_backend(DatabaseBackend::Sqlite, sql),
            "CREATE TABLE t (n INTEGER NOT NULL, b BLOB, f INTEGER DEFAULT 0)"
        );
    }

    #[test]
    fn multi_row_values_number_every_cell() {
        assert_eq!(values_rows(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
    }

    #[tokio::test]
    async fn sqlite_binds_numbered_placeholders_by_number() {
        let db = Database::connect("sqlite::memory:").await.expect("sqlite");
        let row = db
            .query_one(statement(
                DatabaseBackend::Sqlite,
                "SELECT $2 AS second, $1 AS first, $1 + $2 AS sum",
                [Value::from(1i64), Value::from(20i64)],
            ))
            .await
            .expect("query")
            .expect("a row");
        let read = |column| row.try_get::<i64>("", column).expect(column);
        assert_eq!((read("first"), read("second"), read("sum")), (1, 20, 21));
    }
}
