//! The gRPC adapter over [`Results`], with the throttled WatchResults stream.

use std::{pin::Pin, sync::Arc, time::Duration};

use futures::{Stream, StreamExt};
use kit::{auth::caller, shutdown::Shutdown};
use proto_gen::result::v1::{
    result_service_server::ResultService, AuditRequest, AuditResponse, ExportBallotsRequest,
    ExportBallotsResponse, ExportResultsRequest, ExportResultsResponse, GetResultsRequest,
    GetResultsResponse, RecountRequest, RecountResponse, WatchResultsRequest, WatchResultsResponse,
};
use tonic::{Request, Response, Status};

use crate::{
    service::{check_visible, election_id, Results},
    watchers::{is_newer, ElectionWatch},
};

/// At most one snapshot per watcher this often.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);

pub struct ResultApi {
    pub results: Arc<Results>,
    /// Fired when the drain starts: every WatchResults stream ends then, so none holds
    /// the drain up.
    pub streams_end: Shutdown,
}

type Reply<T> = Result<Response<T>, Status>;
type SnapshotStream = Pin<Box<dyn Stream<Item = Result<WatchResultsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ResultService for ResultApi {
    async fn get_results(&self, request: Request<GetResultsRequest>) -> Reply<GetResultsResponse> {
        let caller = caller(&request)?;
        let election = request.into_inner().election_id;
        Ok(Response::new(self.results.get(&caller, &election).await?))
    }

    type WatchResultsStream = SnapshotStream;

    async fn watch_results(
        &self,
        request: Request<WatchResultsRequest>,
    ) -> Reply<Self::WatchResultsStream> {
        let caller = caller(&request)?;
        let election_id = election_id(&request.into_inner().election_id)?;
        check_visible(&caller, &self.results.directory.get(&election_id).await?)?;
        // Watch before the first read, so no change between the two is missed.
        let watch = self.results.cache.watch(&election_id);
        let first = self.results.snapshot(&election_id).await?;
        let updates = snapshots(first, watch).map(|snapshot| {
            Ok(WatchResultsResponse {
                results: Some(snapshot),
            })
        });
        Ok(Response::new(Box::pin(
            self.streams_end.until_stopped(updates),
        )))
    }

    async fn recount(&self, request: Request<RecountRequest>) -> Reply<RecountResponse> {
        Ok(Response::new(
            self.results
                .recount(&request.into_inner().election_id)
                .await?,
        ))
    }

    async fn audit(&self, request: Request<AuditRequest>) -> Reply<AuditResponse> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.results
                .audit(&caller, &request.into_inner().election_id)
                .await?,
        ))
    }

    async fn export_results(
        &self,
        request: Request<ExportResultsRequest>,
    ) -> Reply<ExportResultsResponse> {
        let caller = caller(&request)?;
        let asked = request.into_inner();
        Ok(Response::new(
            self.results
                .export_results(&caller, &asked.election_id, asked.format)
                .await?,
        ))
    }

    async fn export_ballots(
        &self,
        request: Request<ExportBallotsRequest>,
    ) -> Reply<ExportBallotsResponse> {
        let caller = caller(&request)?;
        let asked = request.into_inner();
        Ok(Response::new(
            self.results
                .export_ballots(
                    &caller,
                    &asked.election_id,
                    &asked.question_id,
                    asked.format,
                )
                .await?,
        ))
    }
}

/// `first`, then the newest snapshot of the election at most every [`WATCH_INTERVAL`]
/// while its count moves, until the client goes away.
fn snapshots(
    first: GetResultsResponse,
    watch: ElectionWatch,
) -> impl Stream<Item = GetResultsResponse> + Send + 'static {
    let next_send = tokio::time::Instant::now() + WATCH_INTERVAL;
    let later = futures::stream::unfold(
        (watch, first.clone(), next_send),
        |(mut watch, last, next_send)| async move {
            loop {
                if !watch.changed().await {
                    return None;
                }
                // Whatever is announced meanwhile is folded into the newest.
                tokio::time::sleep_until(next_send).await;
                match watch.newest() {
                    Some(snapshot) if is_newer(&snapshot, Some(&last)) => {
                        let next_send = tokio::time::Instant::now() + WATCH_INTERVAL;
                        return Some((snapshot.clone(), (watch, snapshot, next_send)));
                    }
                    _ => continue,
                }
            }
        },
    );
    futures::stream::once(async { first }).chain(later)
}
