//! Newline-delimited reading with a cap, safe to cancel; used toward the host and the children.
//!
//! `read_until` cannot be bounded (memory is committed before the length can be checked), so
//! lines are assembled from `fill_buf`/`consume`. rmcp polls `receive` inside `select!`, so a
//! read may be dropped at any await: the partial line lives on the struct, and the copy and the
//! matching `consume` happen with no await between them.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One step of reading.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// A whole line is in [`LineReader::line`].
    Line,
    /// A line went past the cap and has been discarded up to its newline; its first and last
    /// bytes are in [`LineReader::oversized_ends`].
    Oversized,
    /// The peer closed the stream (an unterminated tail is dropped).
    Eof,
}

/// Reads lines of at most `max` bytes from a buffered reader.
#[derive(Debug)]
pub struct LineReader<R> {
    read: R,
    line: Vec<u8>,
    max: usize,
    /// Inside an oversized line, until its newline.
    discarding: bool,
    /// The first and the last [`KEPT`] bytes of the oversized line (enough to find its id).
    head: Vec<u8>,
    tail: Vec<u8>,
}

/// Bytes kept from each end of an oversized line.
pub const KEPT: usize = 512;

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    /// A reader refusing lines longer than `max` bytes (newline included).
    pub fn new(read: R, max: usize) -> Self {
        Self {
            read,
            line: Vec::new(),
            max,
            discarding: false,
            head: Vec::new(),
            tail: Vec::new(),
        }
    }

    /// The line read by the last [`Read::Line`].
    pub fn line(&self) -> &[u8] {
        &self.line
    }

    /// The first and last bytes of the last [`Read::Oversized`] line.
    pub fn oversized_ends(&self) -> (&[u8], &[u8]) {
        (&self.head, &self.tail)
    }

    /// Reads the next line, or reports an oversized one once its newline has gone by.
    pub async fn next(&mut self) -> std::io::Result<Read> {
        // A line handed out last time is done with.
        if self.line.last() == Some(&b'\n') {
            self.line.clear();
        }
        loop {
            let available = self.read.fill_buf().await?;
            if available.is_empty() {
                self.line.clear();
                return Ok(Read::Eof);
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let take = newline.map_or(available.len(), |i| i + 1);
            let chunk = &available[..take];
            let mut outcome = None;
            if !self.discarding && self.line.len() + take > self.max {
                self.head.clear();
                self.tail.clear();
                let from_chunk = KEPT.saturating_sub(self.line.len()).min(take);
                self.head
                    .extend_from_slice(&self.line[..self.line.len().min(KEPT)]);
                self.head.extend_from_slice(&chunk[..from_chunk]);
                keep_tail(&mut self.tail, &self.line);
                self.line.clear();
                self.discarding = true;
            }
            if self.discarding {
                let body = chunk.strip_suffix(b"\n").unwrap_or(chunk);
                keep_tail(&mut self.tail, body);
                if newline.is_some() {
                    self.discarding = false;
                    outcome = Some(Read::Oversized);
                }
            } else {
                self.line.extend_from_slice(chunk);
                outcome = newline.map(|_| Read::Line);
            }
            self.read.consume(take);
            if let Some(outcome) = outcome {
                return Ok(outcome);
            }
        }
    }
}

/// Keeps the last [`KEPT`] bytes seen of a discarded line.
fn keep_tail(tail: &mut Vec<u8>, bytes: &[u8]) {
    let bytes = &bytes[bytes.len().saturating_sub(KEPT)..];
    let excess = (tail.len() + bytes.len()).saturating_sub(KEPT);
    tail.drain(..excess);
    tail.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all(input: &[u8], max: usize) -> Vec<Result<Vec<u8>, Read>> {
        // A tiny buffer makes every line span several fill_buf calls.
        let mut reader = LineReader::new(tokio::io::BufReader::with_capacity(3, input), max);
        let mut out = Vec::new();
        loop {
            match reader.next().await.unwrap() {
                Read::Line => out.push(Ok(reader.line().to_vec())),
                Read::Eof => return out,
                other => out.push(Err(other)),
            }
        }
    }

    #[tokio::test]
    async fn splits_lines_and_drops_an_unterminated_tail() {
        let got = all(b"ab\n\ncde\ntail", 16).await;
        assert_eq!(
            got,
            vec![
                Ok(b"ab\n".to_vec()),
                Ok(b"\n".to_vec()),
                Ok(b"cde\n".to_vec())
            ]
        );
    }

    #[tokio::test]
    async fn an_oversized_line_is_reported_once_and_the_next_line_is_read() {
        let mut input = vec![b'x'; 50];
        input.extend_from_slice(b"\nok\n");
        let got = all(&input, 8).await;
        assert_eq!(got, vec![Err(Read::Oversized), Ok(b"ok\n".to_vec())]);
    }

    #[tokio::test]
    async fn the_ends_of_an_oversized_line_are_kept() {
        let mut input = b"{\"id\":7,".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5000));
        input.extend_from_slice(b",\"id\":8}\nnext\n");
        let mut reader =
            LineReader::new(tokio::io::BufReader::with_capacity(100, &input[..]), 1000);
        assert_eq!(reader.next().await.unwrap(), Read::Oversized);
        let (head, tail) = reader.oversized_ends();
        assert!(head.starts_with(b"{\"id\":7,") && head.len() == KEPT);
        assert!(tail.ends_with(b",\"id\":8}") && tail.len() == KEPT);
        assert_eq!(reader.next().await.unwrap(), Read::Line);
        assert_eq!(reader.line(), b"next\n");
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_cap_passes() {
        let got = all(b"1234567\n12345678\n", 8).await;
        assert_eq!(got, vec![Ok(b"1234567\n".to_vec()), Err(Read::Oversized)]);
    }
}
