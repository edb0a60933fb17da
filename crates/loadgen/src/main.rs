//! `votemesh-loadgen`: see the library for what it measures.
#![forbid(unsafe_code)]

use clap::Parser;

/// mimalloc, not glibc's malloc: under load the services allocate and free small buffers on
/// every call from two threads, where glibc's arenas spent about a tenth of the CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kit::telemetry::init(kit::config::LogFormat::Text);
    let report = loadgen::run(loadgen::Args::parse()).await?;
    if report.accepted != report.recorded {
        anyhow::bail!("accepted and recorded differ");
    }
    Ok(())
}
