//! Database connections through sea-orm, for PostgreSQL and SQLite alike, and a small
//! migration runner that is safe when several instances start at once.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, Statement,
    TransactionTrait,
};

/// One schema change, as SQL for each backend.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub postgres: &'static [&'static str],
    pub sqlite: &'static [&'static str],
}

/// The `n`-th (1-based) bind placeholder: `$n` on PostgreSQL, `?` on SQLite.
pub fn placeholder(backend: DatabaseBackend, n: usize) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".into(),
    }
}

/// `(…), (…)`: `count` rows of `width` placeholders each, numbered from 1, for a
/// multi-row `VALUES`.
pub fn placeholder_rows(backend: DatabaseBackend, count: usize, width: usize) -> String {
    (0..count)
        .map(|row| {
            let cells: Vec<String> = (1..=width)
                .map(|col| placeholder(backend, row * width + col))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
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
        tolerate_concurrent_create(
            bootstrap
                .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await,
        )?;
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
    let placeholder = |n: usize| match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
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
            .query_one(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT version FROM schema_migrations WHERE version = {}",
                    placeholder(1)
                ),
                [migration.version.into()],
            ))
            .await?
            .is_some();
        if applied {
            continue;
        }
        let statements = match backend {
            DatabaseBackend::Postgres => migration.postgres,
            _ => migration.sqlite,
        };
        for statement in statements {
            txn.execute_unprepared(statement).await?;
        }
        txn.execute(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO schema_migrations (version, name) VALUES ({}, {})",
                placeholder(1),
                placeholder(2)
            ),
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
