//! The gRPC adapter: the delivery log as admins and voters see it.

use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use kit::{auth::caller, time::timestamp, ServiceError};
use proto_gen::{
    notify::v1::{
        notify_service_server::NotifyService, Delivery, DeliveryKind, DeliveryStatus,
        ListDeliveriesRequest, ListDeliveriesResponse, ListMyNotificationsRequest,
        ListMyNotificationsResponse, RetryDeadRequest, RetryDeadResponse,
    },
    user::v1::NotificationChannel,
};
use tonic::{Request, Response, Status};

use crate::{
    mask,
    store::{Channel, DeliveryFilter, DeliveryRow, DeliveryStore, Kind, Status as Stored},
};

pub struct NotifyApi {
    pub store: Arc<dyn DeliveryStore>,
    /// Attempts RetryDead grants each dead delivery.
    pub retry_attempts: u32,
}

type Reply<T> = Result<Response<T>, Status>;

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 200;

fn page_size(requested: u32) -> Result<u64, ServiceError> {
    match requested {
        0 => Ok(u64::from(DEFAULT_PAGE_SIZE)),
        n if n > MAX_PAGE_SIZE => Err(ServiceError::invalid(
            "page_size",
            format!("must be at most {MAX_PAGE_SIZE}"),
        )),
        n => Ok(u64::from(n)),
    }
}

/// A page token is the last row's (created_at_ms, id).
fn position(token: &str) -> Result<Option<(i64, String)>, ServiceError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || ServiceError::invalid("page_token", "not a token from this API");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (created, id) = text.split_once('/').ok_or_else(invalid)?;
    Ok(Some((
        created.parse().map_err(|_| invalid())?,
        id.to_owned(),
    )))
}

fn status_of(status: Stored) -> DeliveryStatus {
    match status {
        Stored::Pending => DeliveryStatus::Pending,
        Stored::Sent => DeliveryStatus::Sent,
        Stored::Failed => DeliveryStatus::Failed,
        Stored::Dead => DeliveryStatus::Dead,
        Stored::Skipped => DeliveryStatus::Skipped,
    }
}

fn stored_status(value: i32) -> Result<Option<Stored>, ServiceError> {
    Ok(match DeliveryStatus::try_from(value) {
        Ok(DeliveryStatus::Unspecified) => None,
        Ok(DeliveryStatus::Pending) => Some(Stored::Pending),
        Ok(DeliveryStatus::Sent) => Some(Stored::Sent),
        Ok(DeliveryStatus::Failed) => Some(Stored::Failed),
        Ok(DeliveryStatus::Dead) => Some(Stored::Dead),
        Ok(DeliveryStatus::Skipped) => Some(Stored::Skipped),
        Err(_) => return Err(ServiceError::invalid("status", "unknown status")),
    })
}

fn election_filter(value: &str) -> Result<Option<String>, ServiceError> {
    if value.is_empty() {
        return Ok(None);
    }
    uuid::Uuid::parse_str(value)
        .map(|id| Some(id.to_string()))
        .map_err(|_| ServiceError::invalid("election_id", "not a valid id"))
}

fn to_proto(row: &DeliveryRow) -> Delivery {
    let channel = match row.channel {
        Channel::Email => NotificationChannel::Email,
        Channel::Sms => NotificationChannel::Sms,
        Channel::None => NotificationChannel::None,
    };
    let kind = match row.kind {
        Kind::Verification => DeliveryKind::Verification,
        Kind::Confirmation => DeliveryKind::Confirmation,
        Kind::Invitation => DeliveryKind::Invitation,
        Kind::Reminder => DeliveryKind::Reminder,
    };
    Delivery {
        event_id: row.event_id.clone(),
        channel: channel as i32,
        status: status_of(row.status) as i32,
        attempts: row.attempts,
        last_error: row.last_error.clone(),
        updated_at: Some(timestamp(row.updated_at_ms)),
        kind: kind as i32,
        election_id: row.election_id.clone(),
        recipient: mask::recipient(&row.recipient),
        next_attempt_at: (row.status == Stored::Failed).then(|| timestamp(row.next_attempt_at_ms)),
        created_at: Some(timestamp(row.created_at_ms)),
    }
}

impl NotifyApi {
    /// One page of `filter` with the token for the next.
    async fn page(
        &self,
        mut filter: DeliveryFilter,
        size: u64,
    ) -> Result<(Vec<Delivery>, String), ServiceError> {
        filter.limit = size + 1;
        let mut rows = self
            .store
            .list(filter)
            .await
            .map_err(ServiceError::internal)?;
        let next = if rows.len() as u64 > size {
            rows.truncate(size as usize);
            rows.last()
                .map(|row| URL_SAFE_NO_PAD.encode(format!("{}/{}", row.created_at_ms, row.id)))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok((rows.iter().map(to_proto).collect(), next))
    }
}

#[tonic::async_trait]
impl NotifyService for NotifyApi {
    async fn list_deliveries(
        &self,
        request: Request<ListDeliveriesRequest>,
    ) -> Reply<ListDeliveriesResponse> {
        let request = request.into_inner();
        let filter = DeliveryFilter {
            status: stored_status(request.status)?,
            election_id: election_filter(&request.election_id)?,
            before: position(&request.page_token)?,
            ..Default::default()
        };
        let (deliveries, next_page_token) =
            self.page(filter, page_size(request.page_size)?).await?;
        Ok(Response::new(ListDeliveriesResponse {
            deliveries,
            next_page_token,
        }))
    }

    async fn list_my_notifications(
        &self,
        request: Request<ListMyNotificationsRequest>,
    ) -> Reply<ListMyNotificationsResponse> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let filter = DeliveryFilter {
            user_id: Some(caller.user_id),
            before: position(&request.page_token)?,
            ..Default::default()
        };
        let (deliveries, next_page_token) =
            self.page(filter, page_size(request.page_size)?).await?;
        Ok(Response::new(ListMyNotificationsResponse {
            deliveries,
            next_page_token,
        }))
    }

    async fn retry_dead(&self, request: Request<RetryDeadRequest>) -> Reply<RetryDeadResponse> {
        let election_id = election_filter(&request.get_ref().election_id)?;
        let retried = self
            .store
            .retry_dead(
                election_id.as_deref(),
                self.retry_attempts,
                kit::time::now_ms(),
            )
            .await
            .map_err(ServiceError::internal)?;
        tracing::info!(retried, "dead deliveries handed back to the sender");
        Ok(Response::new(RetryDeadResponse {
            retried: retried.min(u64::from(u32::MAX)) as u32,
        }))
    }
}
