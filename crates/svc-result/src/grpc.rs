//! The gRPC adapter over [`Results`], with the throttled WatchResults stream.

use std::{pin::Pin, sync::Arc, time::Duration};

use futures::Stream;
use kit::auth::caller;
use proto_gen::result::v1::{
    result_service_server::ResultService, AuditRequest, AuditResponse, GetResultsRequest,
    GetResultsResponse, RecountRequest, RecountResponse, WatchResultsRequest, WatchResultsResponse,
};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tonic::{Request, Response, Status};

use crate::service::{check_visible, election_id, Results};

/// At most one snapshot per watcher this often.
const WATCH_INTERVAL: Duration = Duration::from_millis(200);

pub struct ResultApi(pub Arc<Results>);

type Reply<T> = Result<Response<T>, Status>;
type SnapshotStream = Pin<Box<dyn Stream<Item = Result<WatchResultsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ResultService for ResultApi {
    async fn get_results(&self, request: Request<GetResultsRequest>) -> Reply<GetResultsResponse> {
        let caller = caller(&request)?;
        let election = request.into_inner().election_id;
        Ok(Response::new(self.0.get(&caller, &election).await?))
    }

    type WatchResultsStream = SnapshotStream;

    async fn watch_results(
        &self,
        request: Request<WatchResultsRequest>,
    ) -> Reply<Self::WatchResultsStream> {
        let caller = caller(&request)?;
        let election_id = election_id(&request.into_inner().election_id)?;
        check_visible(&caller, &self.0.directory.get(&election_id).await?)?;
        // Subscribe before the first read, so no change between the two is missed.
        let updates = self.0.cache.updates();
        let first = self.0.snapshot(&election_id).await?;
        let (sender, receiver) = mpsc::channel(4);
        tokio::spawn(watch(self.0.clone(), election_id, first, updates, sender));
        let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn recount(&self, request: Request<RecountRequest>) -> Reply<RecountResponse> {
        Ok(Response::new(
            self.0.recount(&request.into_inner().election_id).await?,
        ))
    }

    async fn audit(&self, request: Request<AuditRequest>) -> Reply<AuditResponse> {
        let authorization = request.metadata().get("authorization").cloned();
        Ok(Response::new(
            self.0
                .audit(&request.into_inner().election_id, authorization)
                .await?,
        ))
    }
}

/// Sends `first`, then the newest snapshot of the election at most every
/// [`WATCH_INTERVAL`] while it changes, until the client goes away.
async fn watch(
    results: Arc<Results>,
    election_id: String,
    first: GetResultsResponse,
    mut updates: tokio::sync::broadcast::Receiver<GetResultsResponse>,
    sender: mpsc::Sender<Result<WatchResultsResponse, Status>>,
) {
    let mut last_total = first.total_ballots;
    let mut last_as_of = first.as_of;
    if sender
        .send(Ok(WatchResultsResponse {
            results: Some(first),
        }))
        .await
        .is_err()
    {
        return;
    }
    let mut next_send = tokio::time::Instant::now() + WATCH_INTERVAL;
    let mut pending: Option<GetResultsResponse> = None;
    loop {
        let received = tokio::select! {
            received = updates.recv() => received,
            _ = tokio::time::sleep_until(next_send), if pending.is_some() => {
                let snapshot = pending.take().expect("pending checked");
                last_total = snapshot.total_ballots;
                last_as_of = snapshot.as_of;
                if sender.send(Ok(WatchResultsResponse { results: Some(snapshot) })).await.is_err() {
                    return;
                }
                next_send = tokio::time::Instant::now() + WATCH_INTERVAL;
                continue;
            }
            _ = sender.closed() => return,
        };
        let snapshot = match received {
            Ok(snapshot) if snapshot.election_id == election_id => snapshot,
            Ok(_) => continue,
            // Fell behind the announcements: the cache has the newest.
            Err(RecvError::Lagged(_)) => match results.snapshot(&election_id).await {
                Ok(snapshot) => snapshot,
                Err(error) => {
                    let _ = sender.send(Err(Status::from(error))).await;
                    return;
                }
            },
            Err(RecvError::Closed) => return,
        };
        let newer = snapshot.total_ballots > last_total
            || (snapshot.total_ballots == last_total && snapshot.as_of != last_as_of);
        let behind_pending = pending
            .as_ref()
            .is_some_and(|p| p.total_ballots > snapshot.total_ballots);
        if newer && !behind_pending {
            pending = Some(snapshot);
        }
    }
}
