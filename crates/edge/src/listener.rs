//! The edge's accept loop: the router on hyper's HTTP/1.1 and HTTP/2 server with its
//! protocol limits set, which `axum::serve` leaves at hyper's defaults: concurrent streams
//! per connection, the rapid-reset bounds, the header list size, keep-alive pings and a
//! header read timeout for slow HTTP/1 clients. Stops accepting when `stop` resolves and
//! lets the open connections finish.

use std::{future::Future, time::Duration};

use axum::{extract::ConnectInfo, Router};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
};
use kit::server::{
    MAX_CONCURRENT_STREAMS, MAX_LOCAL_ERROR_RESET_STREAMS, MAX_PENDING_ACCEPT_RESET_STREAMS,
};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long an HTTP/1.1 client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The server settings; `max_header_bytes` is the edge's header limit, which HTTP/2's header
/// list may pass by its per-header overhead so that the edge itself answers 431.
fn builder(max_header_bytes: usize) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(MAX_LOCAL_ERROR_RESET_STREAMS)
        .max_header_list_size(u32::try_from(max_header_bytes * 2).unwrap_or(u32::MAX))
        .keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(10));
    builder
}

/// Serves `router` on `listener` until `stop`, then waits for open connections to finish
/// (the caller bounds that wait with the drain deadline).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    max_header_bytes: usize,
    stop: impl Future<Output = ()>,
) {
    let builder = builder(max_header_bytes);
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, or a connection reset while queued: keep serving.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        // The peer's address goes where `ConnectInfo` finds it.
        let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
