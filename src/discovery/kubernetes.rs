//! Watching a namespace's labelled Services with kube-rs (`orchestrator.discovery.kubernetes`).
//!
//! The client is the in-cluster one (the service account's token and CA from
//! `/var/run/secrets/kubernetes.io/serviceaccount/`, the API at `KUBERNETES_SERVICE_HOST`), or
//! `api_url` with an optional bearer token from the variable `token_env` (e.g. `kubectl proxy`
//! at `http://127.0.0.1:8001`, or a test's fake API server).
//!
//! kube's `watcher` lists the Services, then watches from the list's `resourceVersion`; it
//! re-watches when the server ends a watch (they time out by design) and re-lists when the
//! version is too old (410 Gone). Each complete list and each event reports the whole set.
//!
//! On an error the watcher is dropped and, after the same backoff as DNS (one second doubling
//! up to [`RETRY_CAP`]), a new one lists afresh. kube's own backoff would retry inside the
//! stream, where a recovery that brings no event is invisible: `status` would go on saying
//! "failing". A fresh list both confirms the set (clearing the error) and catches Services
//! deleted while the API was away. Until then the last good set stays, as for every source.

use std::{collections::BTreeMap, sync::Weak, time::Duration};

use futures_util::StreamExt;
use http::{HeaderValue, Uri, header::AUTHORIZATION};
use k8s_openapi::api::core::v1::Service;
use kube::{
    Api, Client,
    runtime::watcher::{self, Event, watcher},
};
use tokio_util::sync::CancellationToken;

use super::{DiscoveryError, report, schedule::Schedule, service};
use crate::{config::discovery::KubernetesDiscovery, registry::Registry, report::ServerSource};

/// The longest wait between attempts while the API fails.
const RETRY_CAP: Duration = Duration::from_secs(30);

const SOURCE: ServerSource = ServerSource::Kubernetes;

/// Follows `cfg`'s Services until `stop`.
pub(super) async fn run(
    registry: Weak<Registry>,
    cfg: KubernetesDiscovery,
    stop: CancellationToken,
) {
    let api: Api<Service> = match client(&cfg) {
        Ok(c) => Api::namespaced(c, &cfg.namespace),
        Err(e) => {
            // Settings that cannot make a client will not start working by themselves; a
            // reload with new ones restarts the source.
            report(&registry, SOURCE, Err(e), &stop).await;
            return;
        }
    };
    let mut schedule = Schedule::new(RETRY_CAP);
    let mut watch = Watch {
        registry,
        cfg,
        stop,
        last_problems: Vec::new(),
    };
    loop {
        let Some(error) = watch.follow(&api, &mut schedule).await else {
            return;
        };
        let wait = schedule.after_failure(fastrand::f64());
        if !report(&watch.registry, SOURCE, Err(error), &watch.stop).await {
            return;
        }
        tokio::select! {
            () = watch.stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// A kube client for `cfg`. Never puts the token in a message.
fn client(cfg: &KubernetesDiscovery) -> Result<Client, DiscoveryError> {
    let config = match &cfg.api_url {
        Some(url) => {
            let uri: Uri = url
                .parse()
                .map_err(|e| DiscoveryError::Client(format!("api_url `{url}`: {e}")))?;
            let mut config = kube::Config::new(uri);
            config.default_namespace = cfg.namespace.clone();
            if let Some(var) = &cfg.token_env {
                let token = cfg.token.as_ref().ok_or_else(|| {
                    DiscoveryError::Client(format!("{var} (token_env) is not set"))
                })?;
                let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose()))
                    .map_err(|_| {
                        DiscoveryError::Client(format!("{var} (token_env) is not a valid token"))
                    })?;
                // Shown as "Sensitive" by any Debug print of the request.
                value.set_sensitive(true);
                config.headers.push((AUTHORIZATION, value));
            }
            config
        }
        None => kube::Config::incluster().map_err(|e| {
            DiscoveryError::Client(format!(
                "no `api_url`, and not running in a cluster with a service account: {e}"
            ))
        })?,
    };
    Client::try_from(config).map_err(|e| DiscoveryError::Client(e.to_string()))
}

/// One source's watch state across watcher restarts.
struct Watch {
    registry: Weak<Registry>,
    cfg: KubernetesDiscovery,
    stop: CancellationToken,
    /// The last skipped Services' messages, so that they are logged when they change only.
    last_problems: Vec<String>,
}

impl Watch {
    /// One watcher, from its first list until it fails (`Some`) or the source stops (`None`).
    async fn follow(
        &mut self,
        api: &Api<Service>,
        schedule: &mut Schedule,
    ) -> Option<DiscoveryError> {
        let config = watcher::Config::default().labels(&self.cfg.label_selector);
        let mut stream = std::pin::pin!(watcher(api.clone(), config));
        let mut current: BTreeMap<String, Service> = BTreeMap::new();
        // A list being received: replaces `current` once complete, so that a re-list shows no
        // server leaving and coming back.
        let mut listing: Option<BTreeMap<String, Service>> = None;
        loop {
            let event = tokio::select! {
                () = self.stop.cancelled() => return None,
                e = stream.next() => e,
            };
            match event {
                Some(Ok(Event::Init)) => listing = Some(BTreeMap::new()),
                Some(Ok(Event::InitApply(svc))) => {
                    if let Some(l) = listing.as_mut() {
                        l.insert(key(&svc), svc);
                    }
                }
                Some(Ok(Event::InitDone)) => {
                    current = listing.take().unwrap_or_default();
                    schedule.after_success();
                }
                Some(Ok(Event::Apply(svc))) => {
                    current.insert(key(&svc), svc);
                }
                Some(Ok(Event::Delete(svc))) => {
                    current.remove(&key(&svc));
                }
                Some(Err(e)) => return Some(self.error(&e)),
                // The watcher's stream does not end; if it did, a new one starts.
                None => return Some(self.error_message("the watch ended".to_owned())),
            }
            if listing.is_none() && !self.publish(&current).await {
                return None;
            }
        }
    }

    /// Reports the set; `false` once the source should end.
    async fn publish(&mut self, current: &BTreeMap<String, Service>) -> bool {
        let (found, problems) = service::servers(current.values(), &self.cfg);
        // Said when they change, not on every event.
        if problems != self.last_problems {
            for p in &problems {
                tracing::warn!(source = %SOURCE, problem = %p, "Service skipped");
            }
            self.last_problems = problems;
        }
        report(&self.registry, SOURCE, Ok(found), &self.stop).await
    }

    fn error(&self, e: &watcher::Error) -> DiscoveryError {
        let forbidden = match e {
            watcher::Error::InitialListFailed(e)
            | watcher::Error::WatchStartFailed(e)
            | watcher::Error::WatchFailed(e) => {
                matches!(e, kube::Error::Api(s) if s.is_forbidden())
            }
            watcher::Error::WatchError(s) => s.is_forbidden(),
            watcher::Error::NoResourceVersion => false,
        };
        let mut message = e.to_string();
        if forbidden {
            message.push_str(
                " (the service account needs `get`, `list` and `watch` on `services` in this namespace)",
            );
        }
        self.error_message(message)
    }

    fn error_message(&self, message: String) -> DiscoveryError {
        DiscoveryError::Watch {
            namespace: self.cfg.namespace.clone(),
            selector: self.cfg.label_selector.clone(),
            message,
        }
    }
}

/// A Service's key in the set: its name (unique in the namespace).
fn key(svc: &Service) -> String {
    svc.metadata.name.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Secret;

    fn cfg(api_url: Option<&str>) -> KubernetesDiscovery {
        KubernetesDiscovery {
            namespace: "tools".into(),
            label_selector: "mcp.io/server=true".into(),
            api_url: api_url.map(Into::into),
            token_env: None,
            token: None,
            port_name: "mcp".into(),
            path: "/mcp".into(),
            headers: BTreeMap::new(),
            missing_env: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_client_for_api_url_with_or_without_a_token() {
        assert!(client(&cfg(Some("http://127.0.0.1:8001"))).is_ok());
        let mut c = cfg(Some("https://k8s.example:6443"));
        c.token_env = Some("KUBE_TOKEN".into());
        let e = client(&c).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("KUBE_TOKEN (token_env) is not set"), "{e}");
        c.token = Some(Secret::new("line\nbreak-secret"));
        let e = client(&c).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            e.contains("not a valid token") && !e.contains("secret"),
            "{e}"
        );
        c.token = Some(Secret::new("t0k"));
        assert!(client(&c).is_ok());
    }

    #[tokio::test]
    async fn outside_a_cluster_without_api_url_says_so() {
        // Only meaningful where no in-cluster API is advertised.
        if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
            return;
        }
        let e = client(&cfg(None))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("not running in a cluster"), "{e}");
    }
}
