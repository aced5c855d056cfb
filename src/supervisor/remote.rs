//! Servers reached over streamable HTTP instead of launched: the transport, with the config's
//! headers (`Authorization: Bearer …` goes through rmcp's own auth header).

use std::collections::HashMap;

use rmcp::transport::{
    StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
};

use crate::config::Remote;

/// A transport for `remote`, or a message naming the bad header (never its value).
pub fn transport(
    remote: &Remote,
) -> Result<StreamableHttpClientTransport<reqwest::Client>, String> {
    let mut custom = HashMap::new();
    let mut bearer = None;
    for (name, value) in &remote.headers {
        let value = value.expose();
        if name.eq_ignore_ascii_case("authorization")
            && let Some(token) = value.strip_prefix("Bearer ")
        {
            // rmcp adds the `Bearer ` scheme itself.
            bearer = Some(token.to_owned());
            continue;
        }
        let name_h = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header name `{name}` is not valid"))?;
        let value_h = http::HeaderValue::from_str(value)
            .map_err(|_| format!("the value of header `{name}` is not a valid header value"))?;
        custom.insert(name_h, value_h);
    }
    let mut config =
        StreamableHttpClientTransportConfig::with_uri(remote.url.clone()).custom_headers(custom);
    if let Some(token) = bearer {
        config = config.auth_header(token);
    }
    Ok(StreamableHttpClientTransport::from_config(config))
}
