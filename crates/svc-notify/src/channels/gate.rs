//! A stream that holds back the end of a message until its delivery is recorded.
//!
//! An SMTP server takes a message once it reads the line `.` that ends DATA, and says so only
//! afterwards. Recording "sent" after that answer leaves a window in which a crash sends the
//! message twice; recording it before the message leaves one in which a crash loses it. The
//! gate closes both: the body goes out, then the record commits, then the final `.` goes.
//! A crash before the commit leaves an unfinished DATA that the server throws away (and the
//! message is tried again); only a crash between the commit and one write of five bytes can
//! lose a message. lettre writes that terminator on its own, so the gate knows it when it
//! sees it; dot-stuffing keeps it out of every body.

use std::{
    fmt,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use lettre::transport::smtp::client::AsyncTokioStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What lettre writes to end a message's DATA.
const END_OF_DATA: &[u8] = b"\r\n.\r\n";

/// Records a delivery before the server can take it; an error leaves the message unsent.
pub type Commit = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// Where the commit of the message in flight waits for the end of its DATA.
#[derive(Default)]
pub struct Gate {
    pending: Mutex<Option<Commit>>,
}

impl Gate {
    /// Holds the next end of DATA until `commit` has finished.
    pub fn arm(&self, commit: Commit) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(commit);
    }

    /// The commit, if it never ran (the send ended before the end of DATA).
    pub fn take(&self) -> Option<Commit> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    fn poll_commit(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let Some(commit) = pending.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let outcome = std::task::ready!(commit.as_mut().poll(cx));
        *pending = None;
        Poll::Ready(outcome.map_err(|error| io::Error::other(format!("recording: {error}"))))
    }
}

/// The connection lettre speaks SMTP over: plain TCP, or TLS set up below the gate.
pub trait Transport: AsyncRead + AsyncWrite + Send + Sync + Unpin + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + fmt::Debug> Transport for T {}

/// A connection whose end-of-DATA writes wait for the [`Gate`]. `greeting` is handed to
/// lettre before anything read from the server: after a STARTTLS done below the gate, the
/// server greets no more, and lettre expects a greeting first.
pub struct GatedStream {
    inner: Box<dyn Transport>,
    gate: Arc<Gate>,
    greeting: Vec<u8>,
    peer: SocketAddr,
}

impl GatedStream {
    pub fn new(
        inner: Box<dyn Transport>,
        gate: Arc<Gate>,
        greeting: Vec<u8>,
        peer: SocketAddr,
    ) -> Self {
        Self {
            inner,
            gate,
            greeting,
            peer,
        }
    }
}

impl fmt::Debug for GatedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatedStream")
            .field("peer", &self.peer)
            .finish()
    }
}

impl AsyncRead for GatedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.greeting.is_empty() {
            let n = self.greeting.len().min(buf.remaining());
            let rest = self.greeting.split_off(n);
            buf.put_slice(&std::mem::replace(&mut self.greeting, rest));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for GatedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf == END_OF_DATA {
            std::task::ready!(self.gate.poll_commit(cx))?;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for GatedStream {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn the_end_of_data_waits_for_the_commit_and_nothing_else_does() {
        let (near, mut far) = tokio::io::duplex(64);
        let gate = Arc::new(Gate::default());
        let peer: SocketAddr = ([127, 0, 0, 1], 25).into();
        let mut stream =
            GatedStream::new(Box::new(near), gate.clone(), b"220 hi\r\n".to_vec(), peer);
        let mut greeting = [0u8; 8];
        stream.read_exact(&mut greeting).await.expect("greeting");
        assert_eq!(&greeting, b"220 hi\r\n");

        let committed = Arc::new(AtomicBool::new(false));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let flag = committed.clone();
        gate.arm(Box::pin(async move {
            released.await.map_err(|e| e.to_string())?;
            flag.store(true, Ordering::SeqCst);
            Ok(())
        }));
        stream.write_all(b"body").await.expect("the body passes");
        let end = tokio::spawn(async move {
            stream.write_all(END_OF_DATA).await.expect("end of data");
            stream
        });
        let mut seen = [0u8; 4];
        far.read_exact(&mut seen).await.expect("body");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!end.is_finished(), "the end of DATA waits for the commit");
        release.send(()).expect("release");
        let _stream = end.await.expect("written");
        assert!(committed.load(Ordering::SeqCst));
        let mut rest = [0u8; 5];
        far.read_exact(&mut rest).await.expect("end");
        assert_eq!(&rest, END_OF_DATA);
    }

    #[tokio::test]
    async fn a_failed_commit_fails_the_write() {
        let (near, _far) = tokio::io::duplex(64);
        let gate = Arc::new(Gate::default());
        let peer: SocketAddr = ([127, 0, 0, 1], 25).into();
        let mut stream = GatedStream::new(Box::new(near), gate.clone(), Vec::new(), peer);
        gate.arm(Box::pin(async { Err("database down".to_owned()) }));
        let error = stream.write_all(END_OF_DATA).await.expect_err("refused");
        assert!(error.to_string().contains("database down"));
    }
}
