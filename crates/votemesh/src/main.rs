//! `votemesh`: run the whole system with `votemesh up`, or one service per process.
#![forbid(unsafe_code)]

use std::{io::Write, net::SocketAddr, path::PathBuf};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use clap::{Parser, Subcommand};
use kit::{config::LogFormat, shutdown::Shutdown};
use mesh::{Database, Instances, Plan, ServiceCommand, Services};

mod demo;
mod health;
mod migrate;

/// mimalloc, not glibc's malloc: under load the services allocate and free small buffers on
/// every call from two threads, where glibc's arenas spent about a tenth of the CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Runs every service (the registry, each service of the mesh and the edge) in one
    /// process on SQLite, with data in one directory.
    Up(UpArgs),
    #[command(flatten)]
    Service(Box<ServiceCommand>),
    /// Administration that works on the database directly.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Applies one service's schema migrations and exits (services also migrate at start).
    #[command(subcommand)]
    Migrate(migrate::MigrateCommand),
    /// Exits 0 when the service at an address answers grpc.health.v1 with SERVING, 1 when
    /// not: the healthcheck for containers.
    Health(health::HealthArgs),
    /// Runs everything as `up` does, with a sample election of three questions and a few
    /// hundred simulated members casting over a minute, so live results move on screen.
    Demo(DemoArgs),
}

#[derive(clap::Args)]
struct DemoArgs {
    /// Where the demo's embedded databases live; created when missing.
    #[arg(
        long,
        env = "VOTEMESH_DEMO_DATA_DIR",
        default_value = "./votemesh-demo"
    )]
    data_dir: PathBuf,
    /// Address of the edge.
    #[arg(long, env = "VOTEMESH_EDGE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Simulated members who cast a ballot.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=5000))]
    voters: u64,
    /// Over how many seconds they cast.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
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
    /// Send email through this SMTP server (e.g. `smtp://user:pass@host:587?tls=starttls`);
    /// unset, each email is written as an `.eml` file under `<data-dir>/outbox-mail/`.
    #[arg(long, env = "VOTEMESH_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// Send SMS through this HTTP gateway; unset, SMS are written to
    /// `<data-dir>/outbox-mail/sms.jsonl`.
    #[arg(long, env = "VOTEMESH_SMS_GATEWAY_URL")]
    sms_gateway_url: Option<String>,
    /// The gateway's `Authorization` header value.
    #[arg(long, env = "VOTEMESH_SMS_GATEWAY_AUTH", hide_env_values = true)]
    sms_gateway_auth: Option<String>,
    /// k: the fewest ballots the mix releases together and results move by while an
    /// election is open (1 shows every ballot as it arrives, and turns the mix's anonymity
    /// off: for trying things out only).
    #[arg(long, env = "VOTEMESH_MIX_MIN_BATCH", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    mix_min_batch: u64,
    /// Serve the web app from this directory (a `web/` build) instead of the bundle built
    /// into the binary: for working on the app.
    #[arg(long, env = "VOTEMESH_WEB_DIR")]
    web_dir: Option<PathBuf>,
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
    /// svc-user's signing key secret; defaults to the data directory's, and is required
    /// with --database-url.
    #[arg(long, env = "VOTEMESH_SIGNING_KEY_SECRET", hide_env_values = true)]
    signing_key_secret: Option<String>,
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

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A shutdown fired by SIGINT or SIGTERM.
fn on_signals() -> Shutdown {
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    shutdown
}

/// The files `votemesh up` keeps its secrets in, under the data directory.
const INTERNAL_TOKEN: &str = "internal-token";
const RECEIPT_SECRET: &str = "receipt-secret";
const SIGNING_KEY_SECRET: &str = "signing-key-secret";

/// The embedded default's secret `name`, kept in `<data-dir>/<name>` (owner-only) so it
/// survives restarts: receipts, pending verification codes and the sealed signing keys
/// need the same secrets as before.
fn persistent_secret(data_dir: &std::path::Path, name: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    let path = data_dir.join(name);
    if let Ok(secret) = std::fs::read_to_string(&path) {
        if !secret.trim().is_empty() {
            return Ok(secret.trim().to_owned());
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let secret = random_secret();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    Ok(secret)
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    kit::telemetry::init(args.log_format);
    launch(args, |_| {}).await?.stopped().await
}

/// The demo's first admin, whose password is kept in the data directory like its secrets.
const DEMO_ADMIN: &str = "admin@riverside.example";
const DEMO_ADMIN_PASSWORD: &str = "demo-admin-password";

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    kit::telemetry::init(LogFormat::Text);
    let up = UpArgs {
        data_dir: args.data_dir.clone(),
        listen: args.listen,
        log_format: LogFormat::Text,
        smtp_url: None,
        sms_gateway_url: None,
        sms_gateway_auth: None,
        mix_min_batch: 10,
        web_dir: None,
    };
    // Every simulated member signs up from this one address.
    let running = launch(up, |edge| {
        edge.credentials_per_minute = 60_000.0;
        edge.credentials_burst = 1_000.0;
    })
    .await?;
    let password = persistent_secret(&args.data_dir, DEMO_ADMIN_PASSWORD)?;
    make_admin(BootstrapArgs {
        data_dir: args.data_dir.clone(),
        database_url: None,
        signing_key_secret: None,
        email: DEMO_ADMIN.into(),
        password: password.clone(),
    })
    .await?;
    println!("demo admin: {DEMO_ADMIN}  password: {password}");
    let (edge, mail) = (running.edge_url.clone(), args.data_dir.join("outbox-mail"));
    tokio::spawn(async move {
        let admin = (DEMO_ADMIN, password.as_str());
        let loaded = demo::load(&edge, admin, &mail, args.voters as usize, args.seconds);
        if let Err(error) = loaded.await {
            eprintln!("demo: stopped loading: {error:#}");
        }
    });
    running.stopped().await
}

/// Starts every service on SQLite in `args.data_dir`, the edge adjusted by `edge_extra`, and
/// prints where everything is.
async fn launch(
    args: UpArgs,
    edge_extra: impl Fn(&mut edge::Config) + Send + Sync + 'static,
) -> anyhow::Result<mesh::Running> {
    let shutdown = on_signals();
    let plan = Plan {
        internal_token: persistent_secret(&args.data_dir, INTERNAL_TOKEN)?,
        receipt_secret: persistent_secret(&args.data_dir, RECEIPT_SECRET)?,
        signing_key_secret: persistent_secret(&args.data_dir, SIGNING_KEY_SECRET)?,
        database: Database::SqliteDir(args.data_dir.clone()),
        redis_url: None,
        kafka_brokers: None,
        mix_min_batch: Some(args.mix_min_batch),
    };
    let listen = args.listen;
    let web_dir = args.web_dir.clone();
    let outbox = args.data_dir.join("outbox-mail");
    let mail = match &args.smtp_url {
        Some(_) => "sent through the SMTP server given by --smtp-url".to_owned(),
        None => format!("written as .eml files to {}", outbox.display()),
    };
    let services = Services {
        edge: Box::new(move |edge| {
            edge.common.listen = listen;
            edge.web_dir = web_dir.clone();
            edge_extra(edge);
        }),
        notify: Instances::one().configured(move |notify: &mut svc_notify::Config| {
            notify.mail_dir = Some(outbox.clone());
            notify.smtp_url = args.smtp_url.clone();
            notify.sms_gateway_url = args.sms_gateway_url.clone();
            notify.sms_gateway_auth = args.sms_gateway_auth.clone();
            notify.public_url = format!("http://{listen}");
        }),
        ..Services::one_each()
    };
    let running = mesh::spawn(&plan, services, &shutdown).await?;

    let url = &running.edge_url;
    let data_dir = args.data_dir.display();
    // A closed stdout must not take the running system down, so write errors are ignored.
    let _ = writeln!(
        std::io::stdout().lock(),
        "votemesh is up at {url}  (REST, grpc-web and native gRPC on one port)\n  \
         web app:     open {url}/ in a browser\n  \
         data:        {data_dir}\n  \
         OpenAPI:     {url}/api/openapi.json\n  \
         mail:        {mail}\n  \
         first admin: votemesh admin bootstrap --data-dir {data_dir} --email you@example.org --password '<12+ chars>'\n\
         Stop with Ctrl-C."
    );
    Ok(running)
}

async fn bootstrap(args: BootstrapArgs) -> anyhow::Result<()> {
    kit::telemetry::init(LogFormat::Text);
    make_admin(args).await
}

/// Makes `args.email` an admin, creating the account when missing.
async fn make_admin(args: BootstrapArgs) -> anyhow::Result<()> {
    let (database, signing_key_secret) = match (args.database_url, args.signing_key_secret) {
        (Some(url), Some(secret)) => (Database::Shared(url), secret),
        (Some(_), None) => anyhow::bail!(
            "--signing-key-secret (VOTEMESH_SIGNING_KEY_SECRET) is required with --database-url: \
             svc-user's signing keys are sealed with it"
        ),
        (None, secret) => {
            let secret = match secret {
                Some(secret) => secret,
                None => persistent_secret(&args.data_dir, SIGNING_KEY_SECRET)?,
            };
            (Database::SqliteDir(args.data_dir), secret)
        }
    };
    database.prepare()?;
    let database_url = database.url_for::<svc_user::Config>();
    let config: svc_user::Config = kit::config::local([
        "--internal-token=unused".to_owned(),
        format!("--database-url={database_url}"),
        format!("--signing-key-secret={signing_key_secret}"),
    ])?;
    let (users, _keys) = svc_user::build_users(&config).await?;
    let admin = users
        .ensure_admin(&args.email, &args.password)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    println!("{} is an admin (user_id {})", admin.email, admin.user_id);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Up(args) => up(args).await,
        Command::Service(service) => {
            kit::telemetry::init(service.common().log_format);
            service.run(on_signals()).await
        }
        Command::Admin(AdminCommand::Bootstrap(args)) => bootstrap(args).await,
        Command::Demo(args) => demo(args).await,
        Command::Migrate(which) => {
            kit::telemetry::init(LogFormat::Text);
            migrate::run(which).await
        }
        Command::Health(args) => health::check(args).await.map_err(|reason| {
            eprintln!("not serving: {reason}");
            std::process::exit(1)
        }),
    }
}
