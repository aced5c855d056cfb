//! Why a child's start or live connection failed: the text `last_error` starts with (the
//! supervisor adds the tail of the child's stderr and redacts secrets).

use std::{os::unix::process::ExitStatusExt, process::ExitStatus, time::Duration};

/// A failed start or a lost connection.
#[derive(Debug, thiserror::Error)]
pub(super) enum Failure {
    /// The program could not be started.
    #[error("cannot launch `{command}`: {source}")]
    Launch {
        command: String,
        source: std::io::Error,
    },
    /// Spawned without the pipes we asked for.
    #[error("child has no stdio pipes")]
    NoPipes,
    /// `initialize` or the first listing failed.
    #[error("MCP handshake failed: {0}")]
    Handshake(String),
    /// `initialize` and the first listing took longer than `startup_timeout`.
    #[error("did not finish `initialize` and listing within {} s", .0.as_secs_f64())]
    StartTimeout(Duration),
    /// The remote server's transport could not be built: a header that is not valid HTTP.
    #[error("{0}")]
    BadHeader(String),
    /// The remote server refused the connection or the handshake.
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    /// A remote server accepted the connection but did not finish in time.
    #[error("{url} did not finish `initialize` and listing within {} s", .limit.as_secs_f64())]
    ConnectTimeout { url: String, limit: Duration },
    /// The process exited (`when`: "during start-up", "unexpectedly").
    #[error("{}", exit_text(*.status, .when))]
    Exited {
        status: Option<ExitStatus>,
        when: &'static str,
    },
    /// A remote server's connection closed.
    #[error("the connection to the remote server closed")]
    RemoteClosed,
    /// Health pings went unanswered.
    #[error("did not answer {misses} health pings in a row (each allowed {} s); restarted as hung", .timeout.as_secs_f64())]
    Hung { misses: u32, timeout: Duration },
}

fn exit_text(status: Option<ExitStatus>, when: &str) -> String {
    match status {
        Some(s) if s.code().is_some() => {
            format!("exited {when} with code {}", s.code().unwrap_or_default())
        }
        Some(s) => match s.signal() {
            Some(sig) => format!("killed {when} by signal {sig}"),
            None => format!("exited {when}"),
        },
        None => format!("exited {when}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_read_as_code_or_signal() {
        let code = ExitStatus::from_raw(3 << 8);
        let killed = ExitStatus::from_raw(9);
        let during = "during start-up";
        assert_eq!(
            Failure::Exited {
                status: Some(code),
                when: during
            }
            .to_string(),
            "exited during start-up with code 3"
        );
        assert_eq!(
            Failure::Exited {
                status: Some(killed),
                when: "unexpectedly"
            }
            .to_string(),
            "killed unexpectedly by signal 9"
        );
        assert_eq!(
            Failure::Exited {
                status: None,
                when: during
            }
            .to_string(),
            "exited during start-up"
        );
    }
}
