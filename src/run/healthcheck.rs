//! Run layer, `ogrom healthcheck`: the container image's health check. The image holds no
//! shell and no curl, so the binary checks itself: one HTTP/1.1 GET of the liveness path
//! over loopback, exit status 0 on 200 and 1 on anything else, as Docker's and podman's
//! HEALTHCHECK read it. It reads only the status line, and logs nothing: it runs every few
//! seconds, and the container engine keeps what it prints (the reason, on failure).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::config::HealthcheckArgs;

/// Runs the check; on failure says why on stderr.
pub async fn main(args: &HealthcheckArgs) -> ExitCode {
    match check(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("unhealthy: {reason}");
            ExitCode::FAILURE
        }
    }
}

/// The check: `Err` holds a sentence saying what was asked and what came back.
pub(super) async fn check(args: &HealthcheckArgs) -> Result<(), String> {
    let target = target(args);
    let path = match &args.path {
        Some(path) => path.clone(),
        None => format!("{}/health/live", args.path_prefix),
    };
    let asked = format!("GET http://{target}{path}");
    let deadline = Duration::from_millis(args.timeout_ms);
    match tokio::time::timeout(deadline, status(target, &path)).await {
        Ok(Ok(200)) => Ok(()),
        Ok(Ok(code)) => Err(format!("{asked} answered {code}")),
        Ok(Err(error)) => Err(format!("{asked}: {error}")),
        Err(_) => Err(format!("{asked}: no answer within {} ms", args.timeout_ms)),
    }
}

/// The listening address, with a wildcard IP made loopback, and the port overridden.
fn target(args: &HealthcheckArgs) -> SocketAddr {
    let ip = match args.listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, args.port.unwrap_or(args.listen.port()))
}

/// The status code of `GET path` at `target`.
async fn status(target: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(target).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: ogrom-healthcheck\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    // Up to the end of the status line; a server that sends a longer one is not ours.
    let mut head = Vec::with_capacity(128);
    let mut buffer = [0; 256];
    while !head.contains(&b'\n') && head.len() < 1024 {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    parse_status(&head).ok_or_else(|| {
        let line = String::from_utf8_lossy(head.split(|&b| b == b'\n').next().unwrap_or(&[]));
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an HTTP status line: {:?}", line.trim_end()),
        )
    })
}

/// The code of a status line such as `HTTP/1.1 200 OK`.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let mut words = std::str::from_utf8(line).ok()?.split(' ');
    let version = words.next()?;
    let code = words.next()?.trim_end();
    let valid = version.starts_with("HTTP/1.") && code.len() == 3;
    valid.then(|| code.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Cli, Command};
    use clap::Parser as _;
    use tokio::net::TcpListener;

    fn args(line: &[&str]) -> HealthcheckArgs {
        let line = [&["ogrom", "healthcheck", "--listen", "0.0.0.0:8080"], line].concat();
        match Cli::try_parse_from(line).expect("parses").command {
            Command::Healthcheck(args) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    /// A server on a free loopback port that answers every connection with `answer` (or
    /// with nothing, holding the connection open, when it is empty).
    async fn server(answer: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let port = listener.local_addr().expect("has an address").port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = [0; 1024];
                let _ = stream.read(&mut request).await;
                if answer.is_empty() {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        port
    }

    #[test]
    fn checks_the_liveness_path_on_loopback_at_the_listening_port() {
        let prefixed = args(&["--path-prefix", "/api/v2"]);
        assert_eq!(target(&prefixed), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(prefixed.path, None);
        assert_eq!(prefixed.path_prefix, "/api/v2");
        let v6 = args(&["--listen", "[::]:9000"]);
        assert_eq!(target(&v6), "[::1]:9000".parse().unwrap());
        let specific = args(&["--listen", "10.1.2.3:8080"]);
        assert_eq!(target(&specific), "10.1.2.3:8080".parse().unwrap());
    }

    #[test]
    fn path_and_port_can_be_overridden_for_the_partner_stub() {
        let stub = args(&["--path", "/health", "--port", "8090"]);
        assert_eq!(target(&stub), "127.0.0.1:8090".parse().unwrap());
        assert_eq!(stub.path.as_deref(), Some("/health"));
        let line = ["ogrom", "healthcheck", "--path", "/health live"];
        assert!(
            Cli::try_parse_from(line).is_err(),
            "a space would end the request line"
        );
    }

    #[test]
    fn reads_the_code_of_an_http_status_line() {
        assert_eq!(
            parse_status(b"HTTP/1.1 200 OK\r\ncontent-length: 2"),
            Some(200)
        );
        assert_eq!(
            parse_status(b"HTTP/1.0 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(parse_status(b"HTTP/1.1 200"), Some(200));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH_9.2\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 2000 OK\r\n"), None);
        assert_eq!(parse_status(b""), None);
    }

    #[tokio::test]
    async fn passes_on_200_and_fails_on_any_other_answer() {
        let ok = server("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
        let port = ok.to_string();
        assert_eq!(check(&args(&["--port", &port])).await, Ok(()));

        let unready = server("HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
        let port = unready.to_string();
        let error = check(&args(&["--port", &port])).await.unwrap_err();
        assert!(error.ends_with("/health/live answered 503"), "{error}");

        let garbage = server("hello\n").await;
        let port = garbage.to_string();
        let error = check(&args(&["--port", &port])).await.unwrap_err();
        assert!(error.contains("not an HTTP status line"), "{error}");
    }

    #[tokio::test]
    async fn fails_when_nothing_listens_or_nothing_answers_in_time() {
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = closed.local_addr().unwrap().port().to_string();
        drop(closed);
        assert!(check(&args(&["--port", &port])).await.is_err());

        let silent = server("").await.to_string();
        let error = check(&args(&["--port", &silent, "--timeout-ms", "50"]))
            .await
            .unwrap_err();
        assert!(error.ends_with("no answer within 50 ms"), "{error}");
    }
}
