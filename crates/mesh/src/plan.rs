//! Where the mesh runs: its secrets, the database, Redis and Kafka. Each service's
//! config comes from its own flag defaults plus this wiring, for the flags it declares.

use std::path::PathBuf;

use anyhow::Context;

use crate::Service;

/// Where the services keep their data.
#[derive(Clone, Debug)]
pub enum Database {
    /// One SQLite file per service in this directory (`user.db`, `candidate.db`, …), which
    /// is created when missing: the embedded default of `votemesh up`.
    SqliteDir(PathBuf),
    /// One database every service shares, e.g. a `postgres://…` URL.
    Shared(String),
}

impl Database {
    /// The database URL of service `S`.
    pub fn url_for<S: Service>(&self) -> String {
        match self {
            Self::SqliteDir(dir) => format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("{}.db", S::NAME)).display()
            ),
            Self::Shared(url) => url.clone(),
        }
    }

    /// Creates the data directory when it is missing.
    pub fn prepare(&self) -> anyhow::Result<()> {
        if let Self::SqliteDir(dir) = self {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(())
    }
}

/// The wiring every service of one mesh shares. Its `Debug` leaves the secrets out.
#[derive(Clone)]
pub struct Plan {
    /// The secret that authorizes service-to-service calls.
    pub internal_token: String,
    /// svc-voting's key for receipt hashes, apart from the internal token every service
    /// holds; it must outlive restarts, or old receipts stop verifying.
    pub receipt_secret: String,
    /// svc-user's key for sealing its token signing keys at rest; it must outlive restarts,
    /// or svc-user cannot open its keys and refuses to start.
    pub signing_key_secret: String,
    pub database: Database,
    /// Redis for every service with `--redis-url`; unset keeps their state in memory.
    pub redis_url: Option<String>,
    /// Kafka for every service with `--kafka-brokers`; unset uses the in-process bus.
    pub kafka_brokers: Option<String>,
    /// k for svc-voting's mix and svc-result's steps alike; unset keeps their default (10).
    pub mix_min_batch: Option<u64>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("internal_token", &"<secret>")
            .field("receipt_secret", &"<secret>")
            .field("signing_key_secret", &"<secret>")
            .field("database", &self.database)
            .field("redis_url", &self.redis_url)
            .field("kafka_brokers", &self.kafka_brokers)
            .field("mix_min_batch", &self.mix_min_batch)
            .finish()
    }
}

impl Plan {
    /// Service `S`'s config: the defaults its flags declare, this plan's wiring for the
    /// flags it has, and the registry to register with.
    pub fn config<S: Service>(&self, registry_url: Option<&str>) -> anyhow::Result<S> {
        let command = S::augment_args(clap::Command::new(S::NAME));
        let declares = |flag: &str| command.get_arguments().any(|a| a.get_long() == Some(flag));
        let wiring = [
            ("internal-token", Some(self.internal_token.clone())),
            ("receipt-secret", Some(self.receipt_secret.clone())),
            ("signing-key-secret", Some(self.signing_key_secret.clone())),
            ("registry-url", registry_url.map(str::to_owned)),
            ("database-url", Some(self.database.url_for::<S>())),
            ("redis-url", self.redis_url.clone()),
            ("kafka-brokers", self.kafka_brokers.clone()),
            ("mix-min-batch", self.mix_min_batch.map(|k| k.to_string())),
        ];
        let args: Vec<String> = wiring
            .into_iter()
            .filter(|(flag, _)| declares(flag))
            .filter_map(|(flag, value)| Some(format!("--{flag}={}", value?)))
            .collect();
        kit::config::local(args).with_context(|| format!("configuring {}", S::NAME))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(database: Database) -> Plan {
        Plan {
            internal_token: "s3cret".into(),
            receipt_secret: "receipts".into(),
            signing_key_secret: "seal".into(),
            database,
            redis_url: Some("redis://127.0.0.1:6379".into()),
            kafka_brokers: Some("127.0.0.1:9092".into()),
            mix_min_batch: Some(3),
        }
    }

    #[test]
    fn each_service_gets_the_wiring_for_the_flags_it_declares() {
        let plan = plan(Database::SqliteDir("/data".into()));
        let voting: svc_voting::Config = plan.config(Some("http://r")).expect("voting");
        assert_eq!(voting.database_url, "sqlite:///data/voting.db?mode=rwc");
        assert_eq!(voting.redis_url.as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(voting.kafka_brokers.as_deref(), Some("127.0.0.1:9092"));
        assert_eq!(voting.common.registry_url.as_deref(), Some("http://r"));
        assert_eq!(voting.common.internal_token, "s3cret");
        assert_eq!(voting.receipt_secret, "receipts");
        // The rest comes from the flags' own defaults.
        assert_eq!(voting.cast_batch_max, 128);
        assert_eq!(voting.mix_min_batch, 3);

        let registry: registry::Config = plan.config(None).expect("registry");
        assert_eq!(registry.common.registry_url, None);
        assert_eq!(registry.sweep_interval_ms, 200);
    }

    #[test]
    fn a_shared_database_is_every_service_s() {
        let plan = plan(Database::Shared("postgres://db/votemesh".into()));
        let user: svc_user::Config = plan.config(None).expect("user");
        let result: svc_result::Config = plan.config(None).expect("result");
        assert_eq!(user.database_url, "postgres://db/votemesh");
        assert_eq!(user.signing_key_secret, "seal");
        assert_eq!(result.database_url, "postgres://db/votemesh");
        assert_eq!(result.mix_min_batch, 3, "the same k as the mix");
    }

    #[test]
    fn the_subcommands_are_well_formed() {
        use clap::Subcommand;
        crate::ServiceCommand::augment_subcommands(clap::Command::new("votemesh")).debug_assert();
    }
}
