//! `tracing` setup, human-readable or JSON.

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// Installs the global subscriber once; later calls (several services in one process) are no-ops.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("VOTEMESH_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| {
            EnvFilter::new("info,sqlx=warn,sea_orm=warn,h2=warn,hyper=warn,tower=warn")
        });
    let builder = fmt().with_env_filter(filter).with_target(true);
    let _already_set = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
