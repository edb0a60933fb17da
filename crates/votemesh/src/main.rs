//! `votemesh`: run the whole system with `votemesh up`, or one service per process.
#![forbid(unsafe_code)]

use std::{io::Write, net::SocketAddr, path::PathBuf};

use anyhow::Context;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use clap::{Parser, Subcommand};
use kit::{config::LogFormat, shutdown::Shutdown};

#[derive(Parser)]
#[command(
    name = "votemesh",
    version,
    about = "Online elections as a gRPC service mesh"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the registry, svc-user, svc-candidate, svc-voting, svc-result and the edge in one
    /// process on SQLite, with data in one directory.
    Up(UpArgs),
    /// Runs the registry.
    Registry(registry::Config),
    /// Runs svc-user.
    User(svc_user::Config),
    /// Runs svc-candidate.
    Candidate(svc_candidate::Config),
    /// Runs svc-voting.
    Voting(svc_voting::Config),
    /// Runs svc-result.
    Result(svc_result::Config),
    /// Runs the edge.
    Edge(edge::Config),
    /// Administration that works on the database directly.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(clap::Args)]
struct UpArgs {
    /// Where the embedded databases live; created when missing.
    #[arg(long, env = "VOTEMESH_DATA_DIR", default_value = "./votemesh-data")]
    data_dir: PathBuf,
    /// Address of the edge, the single front door.
    #[arg(long, env = "VOTEMESH_EDGE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Log format.
    #[arg(long, env = "VOTEMESH_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Makes an account an admin, creating it when missing: the first-admin bootstrap.
    Bootstrap(BootstrapArgs),
}

#[derive(clap::Args)]
struct BootstrapArgs {
    /// The data directory of `votemesh up`; ignored when --database-url is given.
    #[arg(long, env = "VOTEMESH_DATA_DIR", default_value = "./votemesh-data")]
    data_dir: PathBuf,
    /// svc-user's database, e.g. postgres://…; defaults to the data directory's SQLite file.
    #[arg(long, env = "VOTEMESH_USER_DATABASE_URL")]
    database_url: Option<String>,
    /// The admin's email.
    #[arg(long)]
    email: String,
    /// The admin's password (12 to 128 characters), used when the account is created.
    #[arg(
        long,
        env = "VOTEMESH_BOOTSTRAP_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    password: String,
}

fn sqlite_url(data_dir: &std::path::Path, file: &str) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join(file).display())
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    kit::telemetry::init(args.log_format);
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let secret = random_secret();

    let registry = registry::App::build(registry::Config::local(&secret), shutdown.clone()).await?;
    let registry_url = registry.url();
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(registry.run_until_stopped(shutdown.clone()));

    let user_config = svc_user::Config::local(
        &secret,
        Some(registry_url.clone()),
        sqlite_url(&args.data_dir, "user.db"),
    );
    let user = svc_user::App::build(user_config).await?;
    tasks.spawn(user.run_until_stopped(shutdown.clone()));

    let candidate_config = svc_candidate::Config::local(
        &secret,
        Some(registry_url.clone()),
        sqlite_url(&args.data_dir, "candidate.db"),
    );
    let candidate = svc_candidate::App::build(candidate_config).await?;
    tasks.spawn(candidate.run_until_stopped(shutdown.clone()));

    let voting_config = svc_voting::Config::local(
        &secret,
        Some(registry_url.clone()),
        sqlite_url(&args.data_dir, "voting.db"),
    );
    let voting = svc_voting::App::build(voting_config).await?;
    tasks.spawn(voting.run_until_stopped(shutdown.clone()));

    let result_config = svc_result::Config::local(
        &secret,
        Some(registry_url.clone()),
        sqlite_url(&args.data_dir, "result.db"),
    );
    let result = svc_result::App::build(result_config).await?;
    tasks.spawn(result.run_until_stopped(shutdown.clone()));

    let mut edge_config = edge::Config::local(&secret, registry_url);
    edge_config.common.listen = args.listen;
    let edge = edge::App::build(edge_config).await?;
    let url = edge.url();
    tasks.spawn(edge.run_until_stopped(shutdown.clone()));

    let data_dir = args.data_dir.display();
    // A closed stdout must not take the running system down, so write errors are ignored.
    let _ = writeln!(
        std::io::stdout().lock(),
        "votemesh is up at {url}  (REST, grpc-web and native gRPC on one port)\n  \
         data:        {data_dir}\n  \
         OpenAPI:     {url}/api/openapi.json\n  \
         first admin: votemesh admin bootstrap --data-dir {data_dir} --email you@example.org --password '<12+ chars>'\n\
         Stop with Ctrl-C."
    );

    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined
            .map_err(anyhow::Error::from)
            .and_then(|served| served);
        if let Err(error) = outcome {
            tracing::error!(%error, "a service stopped with an error; stopping the rest");
            shutdown.trigger();
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

async fn bootstrap(args: BootstrapArgs) -> anyhow::Result<()> {
    kit::telemetry::init(LogFormat::Text);
    let database_url = match args.database_url {
        Some(url) => url,
        None => {
            std::fs::create_dir_all(&args.data_dir)?;
            sqlite_url(&args.data_dir, "user.db")
        }
    };
    let config = svc_user::Config::local("unused", None, database_url);
    let (users, _keys) = svc_user::build_users(&config).await?;
    let admin = users
        .ensure_admin(&args.email, &args.password)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    println!("{} is an admin (user_id {})", admin.email, admin.user_id);
    Ok(())
}

async fn serve_one<F, Fut>(log_format: LogFormat, run: F) -> anyhow::Result<()>
where
    F: FnOnce(Shutdown) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    kit::telemetry::init(log_format);
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    run(shutdown).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Up(args) => up(args).await,
        Command::Registry(config) => {
            serve_one(config.common.log_format, |shutdown| async move {
                let app = registry::App::build(config, shutdown.clone()).await?;
                app.run_until_stopped(shutdown).await
            })
            .await
        }
        Command::User(config) => {
            serve_one(config.common.log_format, |shutdown| async move {
                svc_user::App::build(config)
                    .await?
                    .run_until_stopped(shutdown)
                    .await
            })
            .await
        }
        Command::Candidate(config) => {
            serve_one(config.common.log_format, |shutdown| async move {
                svc_candidate::App::build(config)
                    .await?
                    .run_until_stopped(shutdown)
                    .await
            })
            .await
        }
        Command::Voting(config) => {
            serve_one(config.common.log_format, |shutdown| async move {
                svc_voting::App::build(config)
                    .await?
                    .run_until_stopped(shutdown)
                    .await
            })
            .await
        }
        Command::Result(config) => {
            serve_one(config.common.log_format, |shutdown| async move {
                svc_result::App::build(config)
                    .await?
                    .run_until_stopped(shutdown)
                    .await
            })
            .await
        }
        Command::Edge(config) => {
            serve_one(config.common.log_format, |shutdown| async move {
                edge::App::build(config)
                    .await?
                    .run_until_stopped(shutdown)
                    .await
            })
            .await
        }
        Command::Admin(AdminCommand::Bootstrap(args)) => bootstrap(args).await,
    }
}
