//! A child's stderr: forwarded line by line to `tracing` under the server's id, and its last
//! ~32 KiB kept so a crash report can show what the child said before it died.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::secrets::Redactor;

/// How much of a child's stderr is kept.
pub const TAIL_BYTES: usize = 32 * 1024;
/// Longer lines are cut when logged and kept: a child printing one huge line must not make us
/// buffer it all.
const MAX_LINE: usize = 8 * 1024;

/// The last [`TAIL_BYTES`] of stderr, shared between the reader task and the supervisor.
#[derive(Clone, Default)]
pub struct StderrTail {
    inner: Arc<Mutex<Tail>>,
}

#[derive(Default)]
struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
}

impl StderrTail {
    /// Appends a line, dropping the oldest ones past the cap.
    pub fn push(&self, line: String) {
        let mut t = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        t.bytes += line.len() + 1;
        t.lines.push_back(line);
        while t.bytes > TAIL_BYTES && t.lines.len() > 1 {
            if let Some(old) = t.lines.pop_front() {
                t.bytes -= old.len() + 1;
            }
        }
    }

    /// The last `n` lines, oldest first, joined by newlines.
    pub fn last_lines(&self, n: usize) -> String {
        let t = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let skip = t.lines.len().saturating_sub(n);
        t.lines
            .iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Everything kept, for `status`.
    #[cfg(test)]
    pub fn all(&self) -> String {
        self.last_lines(usize::MAX)
    }

    /// Forgets what a previous process said.
    pub fn clear(&self) {
        let mut t = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        t.lines.clear();
        t.bytes = 0;
    }
}

/// Reads `stream` to its end, logging and keeping each (redacted) line.
pub async fn forward(
    server: Arc<str>,
    stream: impl AsyncRead + Unpin,
    tail: StderrTail,
    redactor: Redactor,
) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::with_capacity(256);
    loop {
        buf.clear();
        match read_line_capped(&mut reader, &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = redactor.redact(strip_controls(line.trim_end()).as_str());
        if line.is_empty() {
            continue;
        }
        tracing::info!(target: "mcp_orchestrator::child", server = %server, line = %line, "stderr");
        tail.push(line);
    }
}

/// Reads up to a newline, keeping at most [`MAX_LINE`] bytes of it. Returns bytes consumed.
async fn read_line_capped<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    out: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(consumed);
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume(take);
        consumed += take;
        if done {
            return Ok(consumed);
        }
    }
}

/// Terminal escapes in a child's output would reach the user's terminal through our log.
fn strip_controls(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_newest_bytes() {
        let t = StderrTail::default();
        for i in 0..10_000 {
            t.push(format!("line {i}"));
        }
        let all = t.all();
        assert!(all.len() <= TAIL_BYTES);
        assert!(all.ends_with("line 9999"));
        assert_eq!(t.last_lines(2), "line 9998\nline 9999");
    }

    #[tokio::test]
    async fn forward_caps_lines_strips_escapes_and_redacts() {
        let secret = crate::secrets::Secret::new("sk-abcdef");
        let redactor = Redactor::new([&secret]);
        let long = "x".repeat(MAX_LINE * 3);
        let input = format!("\x1b[31mred\x1b[0m key=sk-abcdef\n{long}\nlast\n");
        let tail = StderrTail::default();
        forward("t".into(), input.as_bytes(), tail.clone(), redactor).await;
        let lines: Vec<String> = tail.all().lines().map(str::to_owned).collect();
        assert_eq!(lines[0], "[31mred[0m key=***");
        assert_eq!(lines[1].len(), MAX_LINE);
        assert_eq!(lines[2], "last");
    }
}
