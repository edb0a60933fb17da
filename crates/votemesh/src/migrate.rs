//! `votemesh migrate <service>`: applies a service's schema migrations and exits, for a
//! deployment that migrates before it rolls (the chart's pre-install/pre-upgrade Job). The
//! services also migrate at start, under the same advisory lock, so either order is safe.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum MigrateCommand {
    /// svc-user's schema.
    User {
        #[arg(long, env = "VOTEMESH_USER_DATABASE_URL")]
        database_url: String,
    },
    /// svc-candidate's schema.
    Candidate {
        #[arg(long, env = "VOTEMESH_CANDIDATE_DATABASE_URL")]
        database_url: String,
    },
    /// svc-voting's schema.
    Voting {
        #[arg(long, env = "VOTEMESH_VOTING_DATABASE_URL")]
        database_url: String,
    },
    /// svc-result's schema.
    Result {
        #[arg(long, env = "VOTEMESH_RESULT_DATABASE_URL")]
        database_url: String,
    },
    /// svc-notify's schema.
    Notify {
        #[arg(long, env = "VOTEMESH_NOTIFY_DATABASE_URL")]
        database_url: String,
    },
}

/// Opening a store migrates it; one connection does.
pub async fn run(command: MigrateCommand) -> anyhow::Result<()> {
    let name = match command {
        MigrateCommand::User { database_url } => {
            svc_user::store::SeaUserStore::open(&database_url, 1).await?;
            "svc-user"
        }
        MigrateCommand::Candidate { database_url } => {
            svc_candidate::store::SeaElectionStore::open(&database_url, None, 1).await?;
            "svc-candidate"
        }
        MigrateCommand::Voting { database_url } => {
            svc_voting::store::SeaVotingStore::open(&database_url, 1).await?;
            "svc-voting"
        }
        MigrateCommand::Result { database_url } => {
            svc_result::store::SeaResultStore::open(&database_url, 1).await?;
            "svc-result"
        }
        MigrateCommand::Notify { database_url } => {
            svc_notify::store::SeaDeliveryStore::open(&database_url, 1).await?;
            "svc-notify"
        }
    };
    println!("{name}: migrations applied");
    Ok(())
}
