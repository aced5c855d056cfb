//! Any bytes from a host, cut into any chunks: the framing never panics, never hands out a line
//! over the cap, gives the same lines however the input is chunked, and every line classifies to
//! a message, nothing, or one well-formed JSON-RPC error (code -32700 or -32600, id echoed only
//! when it was readable).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_orchestrator::fuzzing::{
    frame::{self, Frame, INVALID_REQUEST, PARSE_ERROR},
    lines::{LineReader, Read},
};

const CAP: usize = 4096;

fn lines(data: &[u8], chunk: usize) -> Vec<Result<Vec<u8>, ()>> {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let reader = tokio::io::BufReader::with_capacity(chunk.max(1), data);
        let mut lines = LineReader::new(reader, CAP);
        let mut out = Vec::new();
        loop {
            match lines.next().await.unwrap() {
                Read::Line => {
                    assert!(lines.line().len() <= CAP);
                    out.push(Ok(lines.line().to_vec()));
                }
                Read::Oversized => out.push(Err(())),
                Read::Eof => return out,
            }
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let (chunk, data) = match data.split_first() {
        Some((c, rest)) => (*c as usize + 1, rest),
        None => return,
    };
    let whole = lines(data, 64 * 1024);
    assert_eq!(whole, lines(data, chunk), "chunking changed the lines");
    for line in whole.into_iter().flatten() {
        match frame::classify(&line) {
            Frame::Message(m) => {
                serde_json::to_vec(&m).expect("a parsed message serializes");
            }
            Frame::Skip => {}
            Frame::Reject(r) => {
                assert!(r.code == PARSE_ERROR || r.code == INVALID_REQUEST);
                let v: serde_json::Value = serde_json::from_slice(&r.to_line()).unwrap();
                assert_eq!(v["jsonrpc"], "2.0");
                if r.code == PARSE_ERROR {
                    assert!(v["id"].is_null());
                }
            }
        }
    }
});
