//! Writing whole lines to a byte stream shared by concurrent senders, coalesced: a sender queues
//! its line, and whoever holds the writer writes everything queued in one `write` and one flush.
//! Under load, several answers leave in one system call; alone, a line costs what it did.

use std::{future::Future, io, pin::Pin, sync::Mutex};

use tokio::io::{AsyncWrite, AsyncWriteExt as _};

/// A boxed future: [`LineSink`] stays object-safe.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = io::Result<()>> + Send + 'a>>;

/// Somewhere whole lines go: the host's stdout, a child's stdin.
pub trait LineSink: Send + Sync {
    /// Queues `line` (newline included) and returns once it has been written.
    fn send(&self, line: Vec<u8>) -> SendFuture<'_>;
}

/// A writer behind a queue: see the module doc.
pub struct Coalescing<W> {
    queue: Mutex<Vec<u8>>,
    /// The stream, and the buffer the queue is swapped into while it is written (two buffers
    /// trade places: no allocation per write once they have grown).
    out: tokio::sync::Mutex<(W, Vec<u8>)>,
}

impl<W: AsyncWrite + Unpin + Send> Coalescing<W> {
    /// Lines to `out`.
    pub fn new(out: W) -> Self {
        Self {
            queue: Mutex::new(Vec::new()),
            out: tokio::sync::Mutex::new((out, Vec::new())),
        }
    }

    /// Queues `line` and writes what is queued, unless a writer holding the stream takes it.
    pub async fn write_line(&self, line: &[u8]) -> io::Result<()> {
        lock(&self.queue).extend_from_slice(line);
        let mut guard = self.out.lock().await;
        let (out, batch) = &mut *guard;
        // Everything queued so far, ours included unless the previous holder already wrote it
        // (it held the stream until its write was done, so ours is out).
        batch.clear();
        std::mem::swap(&mut *lock(&self.queue), batch);
        if batch.is_empty() {
            return Ok(());
        }
        out.write_all(batch).await?;
        out.flush().await
    }

    /// Flushes the stream.
    pub async fn flush(&self) -> io::Result<()> {
        self.out.lock().await.0.flush().await
    }

    /// Shuts the stream down (a child's stdin: its EOF).
    pub async fn shutdown(&self) -> io::Result<()> {
        self.out.lock().await.0.shutdown().await
    }
}

impl<W: AsyncWrite + Unpin + Send> LineSink for Coalescing<W> {
    fn send(&self, line: Vec<u8>) -> SendFuture<'_> {
        Box::pin(async move { self.write_line(&line).await })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_lines_arrive_whole_and_in_queue_order() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let sink = std::sync::Arc::new(Coalescing::new(a));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50 {
            let sink = sink.clone();
            tasks.spawn(async move {
                sink.write_line(format!("{{\"n\":{i}}}\n").as_bytes())
                    .await
                    .unwrap();
            });
        }
        while let Some(t) = tasks.join_next().await {
            t.unwrap();
        }
        drop(sink);
        let mut all = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut b, &mut all)
            .await
            .unwrap();
        let mut seen: Vec<u32> = all
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["n"]
                    .as_u64()
                    .unwrap() as u32
            })
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..50).collect::<Vec<_>>());
    }
}
