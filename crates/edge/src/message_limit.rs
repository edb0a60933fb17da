//! The size limit on gRPC and grpc-web requests, as REST has one on its bodies: a unary
//! call's body is read whole (it is one message) within the limit and the upstream timeout;
//! a client stream is checked frame by frame as it passes, so a roll import of any length
//! flows while no single message may pass the limit.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::{Buf, Bytes};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use tonic::{body::Body, Status};

/// A gRPC frame's header: a compression flag and a big-endian length.
const FRAME_HEADER: usize = 5;

fn too_large(max: usize) -> Status {
    Status::resource_exhausted(format!("request message larger than {max} bytes"))
}

/// A unary call's body, read whole: refused when it holds more than `max` bytes of message
/// (plus its frame header) or does not arrive within `timeout`.
pub async fn read_unary(body: Body, max: usize, timeout: Duration) -> Result<Body, Status> {
    let limited = http_body_util::Limited::new(body, max + FRAME_HEADER);
    match tokio::time::timeout(timeout, limited.collect()).await {
        Ok(Ok(collected)) => Ok(Body::new(http_body_util::Full::new(collected.to_bytes()))),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => Err(too_large(max)),
        Ok(Err(_)) => Err(Status::cancelled("the request body was cut off")),
        Err(_) => Err(Status::deadline_exceeded(
            "the request body did not arrive in time",
        )),
    }
}

/// Follows the frame headers of a gRPC body across chunk boundaries.
#[derive(Debug, Default)]
pub struct FrameScanner {
    /// Bytes of the current frame's header seen so far.
    header: Vec<u8>,
    /// Message bytes still to skip before the next header.
    remaining: usize,
}

impl FrameScanner {
    /// Reads `chunk`; `Err` with the declared length once a frame declares more than `max`.
    pub fn scan(&mut self, mut chunk: &[u8], max: usize) -> Result<(), usize> {
        while !chunk.is_empty() {
            if self.remaining > 0 {
                let skipped = self.remaining.min(chunk.len());
                self.remaining -= skipped;
                chunk = &chunk[skipped..];
                continue;
            }
            let wanted = FRAME_HEADER - self.header.len();
            let taken = wanted.min(chunk.len());
            self.header.extend_from_slice(&chunk[..taken]);
            chunk = &chunk[taken..];
            if self.header.len() == FRAME_HEADER {
                let length = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]) as usize;
                self.header.clear();
                if length > max {
                    return Err(length);
                }
                self.remaining = length;
            }
        }
        Ok(())
    }
}

/// A client stream's body that ends with an error as soon as one frame declares more than
/// `max` bytes, before the message itself is passed on.
pub struct StreamLimit {
    inner: Body,
    scanner: FrameScanner,
    max: usize,
}

impl StreamLimit {
    pub fn new(inner: Body, max: usize) -> Self {
        Self {
            inner,
            scanner: FrameScanner::default(),
            max,
        }
    }
}

impl HttpBody for StreamLimit {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if this.scanner.scan(data.chunk(), this.max).is_err() {
                        return Poll::Ready(Some(Err(too_large(this.max))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(length: usize) -> Vec<u8> {
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(&(length as u32).to_be_bytes());
        bytes.extend(std::iter::repeat_n(7u8, length));
        bytes
    }

    proptest! {
        /// However a stream of frames is cut into chunks, the scanner finds the first frame
        /// over the limit, and passes a stream whose frames are all within it.
        #[test]
        fn frames_are_found_across_any_chunking(
            lengths in proptest::collection::vec(0usize..300, 1..12),
            cuts in proptest::collection::vec(1usize..64, 1..40),
            max in 0usize..300,
        ) {
            let stream: Vec<u8> = lengths.iter().flat_map(|&l| frame(l)).collect();
            let mut scanner = FrameScanner::default();
            let (mut at, mut cut) = (0, cuts.iter().cycle());
            let mut found = None;
            while at < stream.len() {
                let end = (at + cut.next().copied().unwrap_or(1)).min(stream.len());
                if let Err(length) = scanner.scan(&stream[at..end], max) {
                    found = Some(length);
                    break;
                }
                at = end;
            }
            prop_assert_eq!(found, lengths.iter().copied().find(|&l| l > max));
        }

        /// Arbitrary bytes never panic the scanner.
        #[test]
        fn any_bytes_are_scanned_without_panicking(
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
            max in 0usize..1024,
        ) {
            let _ = FrameScanner::default().scan(&bytes, max);
        }
    }

    #[tokio::test]
    async fn a_unary_body_over_the_limit_is_refused_and_one_within_it_passes() {
        let timeout = Duration::from_secs(1);
        let small = Body::new(http_body_util::Full::new(Bytes::from(frame(10))));
        let passed = read_unary(small, 10, timeout)
            .await
            .expect("within the limit");
        let bytes = passed.collect().await.expect("body").to_bytes();
        assert_eq!(bytes.len(), 15);
        let large = Body::new(http_body_util::Full::new(Bytes::from(frame(11))));
        let refused = read_unary(large, 10, timeout).await.expect_err("over it");
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    }
}
