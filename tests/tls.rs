//! A certificate the client cannot trust is fatal: against an HTTPS server on 127.0.0.1 with a
//! self-signed certificate, `export` (the Config API client) and `migrate` (which reads the
//! Public API first) stop at the first connection with an error that names the certificate,
//! exit 2, never retry, and never send a request (so the token never leaves the process).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// What the server saw: TCP connections, and handshakes that got as far as a request.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    handshakes: AtomicUsize,
}

/// An HTTPS server with a fresh self-signed certificate for 127.0.0.1 and `localhost`. It
/// answers any request that gets through with a plain 200.
async fn untrusted_server() -> (SocketAddr, Arc<Seen>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = params.self_signed(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let counters = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counters.connections.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let counters = counters.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    counters.handshakes.fetch_add(1, Ordering::SeqCst);
                    let _ = tls
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                        .await;
                }
            });
        }
    });
    (addr, seen)
}

async fn run(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(args)
        .env("SEGMENT_CONFIG_API_TOKEN", "config-token-value-1234")
        .env("SEGMENT_PUBLIC_API_TOKEN", "sgp_publictokenvalue1234")
        .env("SEGBRIDGE_RETRY_BASE_MS", "20")
        .output()
        .await
        .unwrap()
}

fn assert_fatal_certificate_error(output: &std::process::Output, seen: &Seen) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error:") && stderr.to_lowercase().contains("certificate"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("retry"),
        "a certificate error is not retried: {stderr}"
    );
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        1,
        "one attempt only: {stderr}"
    );
    assert_eq!(
        seen.handshakes.load(Ordering::SeqCst),
        0,
        "no request went through"
    );
    for token in ["config-token-value-1234", "sgp_publictokenvalue1234"] {
        assert!(!stderr.contains(token), "{stderr}");
    }
}

#[tokio::test]
async fn an_untrusted_certificate_stops_export_at_once() {
    let (addr, seen) = untrusted_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    let url = format!("https://127.0.0.1:{}", addr.port());
    let output = run(&[
        "export",
        "--config-url",
        &url,
        "--ledger",
        ledger.to_str().unwrap(),
    ])
    .await;
    assert_fatal_certificate_error(&output, &seen);
}

#[tokio::test]
async fn an_untrusted_certificate_stops_the_public_api_client_at_once() {
    let (addr, seen) = untrusted_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    // `migrate` reads the target workspace before anything else.
    let url = format!("https://localhost:{}", addr.port());
    let output = run(&[
        "migrate",
        "--public-url",
        &url,
        "--config-url",
        "http://127.0.0.1:9",
        "--ledger",
        ledger.to_str().unwrap(),
    ])
    .await;
    assert_fatal_certificate_error(&output, &seen);
    assert!(!ledger.exists(), "nothing was started");
}
