//! stdin and stdout on tokio's reactor when they are pipes or sockets.
//!
//! `tokio::io::stdin()`/`stdout()` do every read and write on the blocking thread pool: a thread
//! hand-off per line each way. Hosts give a stdio server pipes (Python, Rust hosts) or Unix
//! socket pairs (Node and Electron hosts, through libuv), which epoll can watch directly; measured
//! with `scripts/bench.sh` this cut context switches per call from 12.4 to 4.0 and raised
//! throughput at 64 calls in flight by 16 % (docs/benchmarks.md). Anything else (a terminal, a
//! file) keeps tokio's blocking-pool handles. The descriptors are duplicates, so fds 0 and 1 stay
//! open for whoever else holds them.

use std::os::{
    fd::{AsFd, BorrowedFd, OwnedFd},
    unix::fs::FileTypeExt,
};

use tokio::io::{AsyncRead, AsyncWrite};

/// The host's side we read.
pub type HostRead = Box<dyn AsyncRead + Unpin + Send>;
/// The host's side we write.
pub type HostWrite = Box<dyn AsyncWrite + Unpin + Send>;

/// What a standard descriptor turned out to be.
enum Pollable {
    Pipe(std::fs::File),
    Socket(tokio::net::UnixStream),
}

/// A duplicate of `fd` ready for the reactor, if it is a pipe or a Unix socket.
fn pollable(fd: BorrowedFd<'_>) -> Option<Pollable> {
    let file = std::fs::File::from(fd.try_clone_to_owned().ok()?);
    let kind = file.metadata().ok()?.file_type();
    if kind.is_fifo() {
        return Some(Pollable::Pipe(file));
    }
    if kind.is_socket() {
        let socket = std::os::unix::net::UnixStream::from(OwnedFd::from(file));
        socket.set_nonblocking(true).ok()?;
        return tokio::net::UnixStream::from_std(socket)
            .ok()
            .map(Pollable::Socket);
    }
    None
}

/// stdin and stdout for `serve`; must be called inside the runtime.
pub fn host_stdio() -> (HostRead, HostWrite) {
    let stdin: Option<HostRead> = match pollable(std::io::stdin().as_fd()) {
        Some(Pollable::Pipe(f)) => tokio::net::unix::pipe::Receiver::from_file(f)
            .ok()
            .map(|r| Box::new(r) as HostRead),
        Some(Pollable::Socket(s)) => Some(Box::new(s)),
        None => None,
    };
    let stdout: Option<HostWrite> = match pollable(std::io::stdout().as_fd()) {
        Some(Pollable::Pipe(f)) => tokio::net::unix::pipe::Sender::from_file(f)
            .ok()
            .map(|w| Box::new(w) as HostWrite),
        Some(Pollable::Socket(s)) => Some(Box::new(s)),
        None => None,
    };
    (
        stdin.unwrap_or_else(|| Box::new(tokio::io::stdin())),
        stdout.unwrap_or_else(|| Box::new(tokio::io::stdout())),
    )
}
