//! A forwarded server stream that ends when the edge drains. A WatchResults stream may stay
//! open for hours, so without this one browser would hold the edge's drain to its deadline.
//! The stream ends at the next gRPC message boundary with an OK status, as a service ends
//! its own streams when it drains, so the client sees a clean end and reconnects.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderValue};
use http_body::{Body as HttpBody, Frame};
use kit::shutdown::Shutdown;
use tonic::{body::Body, Status};

/// Bytes of a gRPC message prefix: a compression flag and a big-endian length.
const PREFIX: usize = 5;

/// Where the forwarded bytes stand in gRPC's length-prefixed framing.
#[derive(Default)]
struct Framing {
    prefix: Vec<u8>,
    remaining: usize,
}

impl Framing {
    fn advance(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            if self.remaining > 0 {
                let n = self.remaining.min(chunk.len());
                self.remaining -= n;
                chunk.advance(n);
                continue;
            }
            let n = (PREFIX - self.prefix.len()).min(chunk.len());
            self.prefix.extend_from_slice(&chunk[..n]);
            chunk.advance(n);
            if self.prefix.len() == PREFIX {
                let length = [
                    self.prefix[1],
                    self.prefix[2],
                    self.prefix[3],
                    self.prefix[4],
                ];
                self.remaining = u32::from_be_bytes(length) as usize;
                self.prefix.clear();
            }
        }
    }

    fn at_boundary(&self) -> bool {
        self.remaining == 0 && self.prefix.is_empty()
    }
}

pub struct DrainingBody {
    inner: Body,
    drain: Pin<Box<dyn Future<Output = ()> + Send>>,
    draining: bool,
    framing: Framing,
    ended: bool,
}

impl DrainingBody {
    pub fn new(inner: Body, shutdown: &Shutdown) -> Self {
        let shutdown = shutdown.clone();
        Self {
            inner,
            drain: Box::pin(async move { shutdown.wait().await }),
            draining: false,
            framing: Framing::default(),
            ended: false,
        }
    }

    fn ok_trailers() -> Frame<Bytes> {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        Frame::trailers(trailers)
    }
}

impl HttpBody for DrainingBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if !this.draining && this.drain.as_mut().poll(cx).is_ready() {
            this.draining = true;
        }
        if this.draining && this.framing.at_boundary() {
            this.ended = true;
            return Poll::Ready(Some(Ok(Self::ok_trailers())));
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.framing.advance(data);
                }
                if frame.is_trailers() {
                    this.ended = true;
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => this.ended = true,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn message(payload: &[u8]) -> Vec<u8> {
        let mut framed = vec![0];
        framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        framed.extend_from_slice(payload);
        framed
    }

    #[test]
    fn framing_follows_messages_split_across_chunks() {
        let mut framing = Framing::default();
        let two = [message(b"hello"), message(b"")].concat();
        framing.advance(&two[..3]);
        assert!(!framing.at_boundary());
        framing.advance(&two[3..8]);
        assert!(!framing.at_boundary());
        framing.advance(&two[8..10]);
        assert!(framing.at_boundary(), "after the first message");
        framing.advance(&two[10..]);
        assert!(framing.at_boundary(), "after the empty second message");
    }

    #[tokio::test]
    async fn an_idle_stream_ends_with_ok_when_the_drain_starts() {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Status>>(4);
        let inner = Body::new(http_body_util::StreamBody::new(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        ));
        let shutdown = Shutdown::new();
        let mut body = DrainingBody::new(inner, &shutdown);
        let first = message(b"snapshot");
        let (head, tail) = first.split_at(4);
        let _ = sender
            .send(Ok(Frame::data(Bytes::copy_from_slice(head))))
            .await;
        let frame = body.frame().await.expect("a frame").expect("data");
        assert_eq!(frame.into_data().expect("data").len(), 4);
        // Mid-message the drain waits for the rest of the message.
        shutdown.trigger();
        let _ = sender
            .send(Ok(Frame::data(Bytes::copy_from_slice(tail))))
            .await;
        let frame = body.frame().await.expect("a frame").expect("data");
        assert_eq!(frame.into_data().expect("data").len(), tail.len());
        let trailers = body.frame().await.expect("a frame").expect("trailers");
        let trailers = trailers.into_trailers().expect("trailers");
        assert_eq!(
            trailers.get("grpc-status"),
            Some(&HeaderValue::from_static("0"))
        );
        assert!(body.frame().await.is_none(), "nothing after the trailers");
        drop(sender);
    }
}
