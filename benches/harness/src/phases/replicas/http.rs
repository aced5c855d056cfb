//! A minimal HTTP/1.1 keep-alive client: one request at a time on one TCP connection, bodies by
//! `Content-Length` or chunked. Hand-written rather than a client crate: the fleet's figures are
//! CPU-bound on two cores, so the caller should cost little beside the replicas and haproxy, and
//! the harness keeps its dependencies (and the workspace's lock file) as they are.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

/// The stateless revision the fleet's calls use.
pub const MODERN: &str = "2026-07-28";

/// A request that takes longer than this fails (a hung replica or load balancer).
const TIMEOUT: Duration = Duration::from_secs(60);

/// One answer: its status, the `X-Mcp-Replica` header haproxy adds (which replica answered), and
/// its body.
pub struct Response {
    pub status: u16,
    pub replica: Option<String>,
    pub body: Vec<u8>,
}

/// One keep-alive connection to `127.0.0.1:port`; reconnects when the server closed it.
pub struct Conn {
    port: u16,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    pub fn new(port: u16) -> Self {
        Self { port, stream: None }
    }

    /// `method path` with these extra header lines (each ending in `\r\n`) and body.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: &[u8],
    ) -> Result<Response> {
        let r = tokio::time::timeout(TIMEOUT, self.exchange(method, path, headers, body)).await;
        match r {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                self.stream = None;
                Err(e)
            }
            Err(_) => {
                self.stream = None;
                bail!("{method} {path}: no answer within {TIMEOUT:?}")
            }
        }
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: &[u8],
    ) -> Result<Response> {
        let port = self.port;
        if self.stream.is_none() {
            let s = TcpStream::connect(("127.0.0.1", port))
                .await
                .with_context(|| format!("connect 127.0.0.1:{port}"))?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::with_capacity(16 * 1024, s));
        }
        let stream = self.stream.as_mut().context("no connection")?;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        // One write per request: the request is small, and one segment is what a client sends.
        stream.get_mut().write_all(&req).await?;

        let mut line = String::new();
        read_line(stream, &mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let (mut length, mut chunked, mut close, mut replica) = (None, false, false, None);
        loop {
            read_line(stream, &mut line).await?;
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = Some(value.parse::<usize>()?),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                "x-mcp-replica" => replica = Some(value.to_owned()),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                read_line(stream, &mut line).await?;
                let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                    .with_context(|| format!("bad chunk size {line:?}"))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    loop {
                        read_line(stream, &mut line).await?;
                        if line.is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                stream.read_exact(&mut body[start..]).await?;
                read_line(stream, &mut line).await?;
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            stream.read_exact(&mut body).await?;
        } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
            // Neither: the body runs to the end of the connection.
            stream.read_to_end(&mut body).await?;
            close = true;
        }
        if close {
            self.stream = None;
        }
        Ok(Response {
            status,
            replica,
            body,
        })
    }
}

/// Reads one line into `line` without its CRLF; EOF is an error (the server went away).
async fn read_line(stream: &mut BufReader<TcpStream>, line: &mut String) -> Result<()> {
    line.clear();
    if stream.read_line(line).await? == 0 {
        bail!("connection closed");
    }
    let end = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(end);
    Ok(())
}

/// A stateless (2026-07-28) request's header lines and body, as the conformance suite and
/// tests/integration/fleet.rs send one: the version, method and tool name in headers, the
/// client's version, info and capabilities in `_meta`.
pub fn modern_request(token: &str, id: u64, method: &str, mut params: Value) -> (String, Vec<u8>) {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "router-bench", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let mut headers = format!(
        "Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: {MODERN}\r\n\
         Mcp-Method: {method}\r\n"
    );
    if let Some(name) = params["name"].as_str() {
        headers.push_str(&format!("Mcp-Name: {name}\r\n"));
    }
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    (headers, body.to_string().into_bytes())
}

/// The `result` of a `tools/call` answer (JSON, or an SSE stream carrying the response with
/// `id`); an HTTP error, a JSON-RPC error or an error result is an `Err`.
pub fn call_result(r: &Response, id: u64) -> Result<Value> {
    if r.status != 200 {
        bail!(
            "HTTP {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body)
                .chars()
                .take(300)
                .collect::<String>()
        );
    }
    let v: Value = match serde_json::from_slice(&r.body) {
        Ok(v) => v,
        Err(_) => String::from_utf8_lossy(&r.body)
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|v| v["id"] == json!(id))
            .context("no JSON-RPC response in the body")?,
    };
    if !v["error"].is_null() {
        bail!("JSON-RPC error: {}", v["error"]);
    }
    let result = v.get("result").context("no result")?.clone();
    if result["isError"] == json!(true) {
        bail!("error result: {result}");
    }
    Ok(result)
}
