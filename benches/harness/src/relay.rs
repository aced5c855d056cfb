//! `router-bench-relay PROGRAM [ARGS...]`: the load phase's floor column (issue #19). A bare
//! relay between the bench's client and one child: it spawns the child with piped stdio, copies
//! the host's stdin to the child's stdin and the child's stdout to its own stdout line by line,
//! and parses nothing. Its I/O is the orchestrator's: a multi-thread tokio runtime; stdin and
//! stdout on the reactor when they are pipes (`src/wire/stdio.rs`), tokio's handles otherwise;
//! the child's stdio through `tokio::process`; 64 KiB buffered reads, one line at a time into a
//! buffer; one `write_all` and one `flush` per line (`src/wire.rs`); each direction on its own
//! task. What the orchestrator costs above this is its own work, not the extra process hop.

use std::{
    io,
    os::fd::AsFd,
    process::{ExitCode, Stdio},
};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

type Read = Box<dyn AsyncRead + Unpin + Send>;
type Write = Box<dyn AsyncWrite + Unpin + Send>;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: router-bench-relay PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let run = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .and_then(|rt| rt.block_on(relay(program, args.collect())));
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("router-bench-relay: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn relay(program: std::ffi::OsString, args: Vec<std::ffi::OsString>) -> io::Result<()> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let (to_child, from_child) = (child.stdin.take(), child.stdout.take());
    let (Some(to_child), Some(from_child)) = (to_child, from_child) else {
        return Err(io::Error::other("the child's stdio is not piped"));
    };
    let (host_in, host_out) = host_stdio()?;
    let mut up = tokio::task::JoinSet::new();
    up.spawn(copy_lines(host_in, Box::new(to_child)));
    let mut down = tokio::task::JoinSet::new();
    down.spawn(copy_lines(Box::new(from_child), host_out));
    // The host closing stdin closes the child's, the child exits, its stdout ends; a child that
    // dies first ends it too. Either way the child→host copy is the last to finish.
    let copied = match down.join_next().await {
        Some(Ok(copied)) => copied,
        Some(Err(e)) => Err(io::Error::other(e)),
        None => Ok(()),
    };
    up.abort_all();
    child.wait().await?;
    copied
}

/// Copies whole lines, flushing after each one.
async fn copy_lines(read: Read, mut write: Write) -> io::Result<()> {
    let mut read = BufReader::with_capacity(64 * 1024, read);
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return write.shutdown().await;
        }
        write.write_all(&line).await?;
        write.flush().await?;
    }
}

/// stdin and stdout on the reactor when they are pipes (what the bench gives us), as `serve`
/// does; tokio's blocking-pool handles otherwise. The descriptors are duplicates.
fn host_stdio() -> io::Result<(Read, Write)> {
    let fifo = |fd: std::os::fd::BorrowedFd<'_>| -> io::Result<Option<std::fs::File>> {
        let file = std::fs::File::from(fd.try_clone_to_owned()?);
        let fifo = std::os::unix::fs::FileTypeExt::is_fifo(&file.metadata()?.file_type());
        Ok(fifo.then_some(file))
    };
    let read: Read = match fifo(io::stdin().as_fd())? {
        Some(f) => Box::new(tokio::net::unix::pipe::Receiver::from_file(f)?),
        None => Box::new(tokio::io::stdin()),
    };
    let write: Write = match fifo(io::stdout().as_fd())? {
        Some(f) => Box::new(tokio::net::unix::pipe::Sender::from_file(f)?),
        None => Box::new(tokio::io::stdout()),
    };
    Ok((read, write))
}
