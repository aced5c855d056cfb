//! The one HTTP client of a vendor server, and the mapping from HTTP and transport failures to
//! [`VendorError`]s.

mod classify;

use std::time::Duration;

use reqwest::{RequestBuilder, Response};
use serde::de::DeserializeOwned;

use crate::env::{self, ConfigError};
use crate::{ErrorKind, Secret, VendorError};

/// Connect and total timeouts of the HTTP client.
#[derive(Debug, Clone, Copy)]
pub struct HttpSettings {
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, response body included.
    pub timeout: Duration,
}

impl HttpSettings {
    /// `MCP_HTTP_CONNECT_TIMEOUT` (default 10 s) and `MCP_HTTP_TIMEOUT` (default 60 s), in seconds.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            connect_timeout: env::seconds("MCP_HTTP_CONNECT_TIMEOUT", Duration::from_secs(10))?,
            timeout: env::seconds("MCP_HTTP_TIMEOUT", Duration::from_secs(60))?,
        })
    }

    /// A pooled client (rustls) with these timeouts.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .user_agent(concat!(
                "mcp-orchestrator-vendor/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            // Only fails when the TLS backend cannot initialise, which is a broken build.
            .expect("the HTTP client (rustls) could not be initialised")
    }
}

/// One vendor's HTTP API: the shared client, the vendor's display name for messages, and the
/// variable and value of its API key (to name it in auth errors and scrub it from every text).
#[derive(Debug, Clone)]
pub struct Api {
    client: reqwest::Client,
    name: &'static str,
    key: Option<(&'static str, Secret)>,
    timeout: Duration,
}

impl Api {
    /// An API called `name` in messages (e.g. "OpenAI").
    pub fn new(settings: &HttpSettings, name: &'static str) -> Self {
        Self {
            client: settings.client(),
            name,
            key: None,
            timeout: settings.timeout,
        }
    }

    /// Names the variable holding the API key and the key itself.
    pub fn with_key(mut self, env_name: &'static str, key: Secret) -> Self {
        self.key = Some((env_name, key));
        self
    }

    /// The vendor's display name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The shared client, to build requests with.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The API key, for the request that must carry it.
    pub fn key(&self) -> Option<&Secret> {
        self.key.as_ref().map(|(_, k)| k)
    }

    /// Sends `request` and returns the response when its status is a success; otherwise the
    /// classified error (non-2xx status, timeout, unreachable).
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, VendorError> {
        let response = request
            .send()
            .await
            .map_err(|e| classify::transport(self, e))?;
        let status = response.status();
        tracing::debug!(
            vendor = self.name,
            status = status.as_u16(),
            path = response.url().path(),
            "vendor answered"
        );
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Err(classify::status(self, status.as_u16(), &headers, &body))
    }

    /// Sends `request` and decodes a successful JSON answer into `T`.
    pub async fn json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<T, VendorError> {
        let response = self.send(request).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| classify::transport(self, e))?;
        serde_json::from_slice(&bytes).map_err(|e| self.malformed(&e.to_string()))
    }

    /// A [`ErrorKind::MalformedResponse`] error for an answer that does not have the expected shape.
    pub fn malformed(&self, detail: &str) -> VendorError {
        VendorError::new(
            ErrorKind::MalformedResponse,
            format!(
                "malformed response from {}: {}",
                self.name,
                self.redact(detail)
            ),
        )
    }

    /// Scrubs the API key out of `text`.
    pub fn redact(&self, text: &str) -> String {
        match &self.key {
            Some((_, key)) => key.redact(text),
            None => text.to_owned(),
        }
    }
}
