//! `votemesh-loadgen`: see the library for what it measures.
#![forbid(unsafe_code)]

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kit::telemetry::init(kit::config::LogFormat::Text);
    let report = loadgen::run(loadgen::Args::parse()).await?;
    if report.accepted != report.recorded {
        anyhow::bail!("accepted and recorded differ");
    }
    Ok(())
}
