//! A loopback relay between amqprs and the broker. amqprs buffers whatever the peer sends until
//! a whole frame decodes: a peer that streams bytes which are not AMQP makes it buffer for ever
//! (gigabytes), and an unknown method id panics inside it. The relay dials the broker (with TLS
//! when asked), checks every frame the broker sends (type, size, end octet, a method amqprs
//! knows) before passing it on, and records why it stopped, so a failed handshake is reported
//! for what it was: a reset before any AMQP (temporary), a peer that does not speak AMQP
//! (protocol error), or the dial's own error.
//!
//! It listens on 127.0.0.1, on a port of its own, for the one connection amqprs makes, and
//! relays that one only. A local process racing the client to that port gains nothing (no
//! credentials cross the relay before the client's own connection does); the run then fails
//! on its timeout.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::endpoint::Endpoint;

const FRAME_END: u8 = 0xCE;
/// Before `connection.tune` a frame is at most 4096 octets (AMQP 0-9-1 §4.2.3, frame-min-size);
/// RabbitMQ's `connection.start` is well under this generous bound.
const HANDSHAKE_FRAME: u32 = 128 << 10;
/// The largest frame accepted after the tune, whatever `frame_max` the broker announced.
const MAX_FRAME: u32 = 16 << 20;

/// Why the relay stopped before the broker's first frame, or what the broker sent instead.
#[derive(Clone, Debug)]
pub(super) enum Fault {
    /// Dialling the broker failed with this error text (TCP, or a TLS setting such as the
    /// server name).
    Dial(String),
    /// The TLS handshake with the broker failed: rustls refused it (certificate, protocol,
    /// an alert from the broker), told apart by the error's type, not its words.
    Tls(String),
    /// The broker closed or reset the connection before sending any AMQP frame.
    ClosedEarly(String),
    /// The broker sent bytes that are not AMQP 0-9-1 frames.
    NotAmqp(String),
}

pub(super) struct Relay {
    pub port: u16,
    fault: Arc<Mutex<Option<Fault>>>,
}

impl Relay {
    /// Binds the relay's port and serves its one connection in the background.
    pub(super) async fn start(
        endpoint: &Endpoint,
        tls: Option<tokio_rustls::TlsConnector>,
    ) -> std::io::Result<Relay> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let fault = Arc::new(Mutex::new(None));
        let slot = fault.clone();
        let (host, broker_port) = (endpoint.host.clone(), endpoint.port);
        tokio::spawn(async move {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            drop(listener);
            let _ = client.set_nodelay(true);
            match dial(&host, broker_port, tls).await {
                Ok(Upstream::Plain(s)) => pipe(client, s, &slot).await,
                Ok(Upstream::Tls(s)) => pipe(client, *s, &slot).await,
                Err(e) => record(&slot, dial_fault(&e)),
            }
        });
        Ok(Relay { port, fault })
    }

    /// What went wrong, if the relay saw it.
    pub(super) fn fault(&self) -> Option<Fault> {
        self.fault.lock().ok().and_then(|f| f.clone())
    }
}

enum Upstream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

async fn dial(
    host: &str,
    port: u16,
    tls: Option<tokio_rustls::TlsConnector>,
) -> std::io::Result<Upstream> {
    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    let Some(connector) = tls else {
        return Ok(Upstream::Plain(tcp));
    };
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    Ok(Upstream::Tls(Box::new(connector.connect(name, tcp).await?)))
}

/// tokio-rustls hands rustls' own error back inside the `io::Error`: that is a TLS failure
/// whatever its text says; anything else is the TCP side.
fn dial_fault(e: &std::io::Error) -> Fault {
    let rustls_error = e
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
    if rustls_error {
        Fault::Tls(e.to_string())
    } else {
        Fault::Dial(e.to_string())
    }
}

fn record(slot: &Mutex<Option<Fault>>, fault: Fault) {
    if let Ok(mut f) = slot.lock() {
        f.get_or_insert(fault);
    }
}

/// Client bytes go to the broker as they are; the broker's go back frame by frame, checked.
/// Whichever side ends first ends both.
async fn pipe<S>(client: TcpStream, broker: S, slot: &Mutex<Option<Fault>>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut client_rx, mut client_tx) = client.into_split();
    let (mut broker_rx, mut broker_tx) = tokio::io::split(broker);
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_rx, &mut broker_tx).await;
        let _ = broker_tx.shutdown().await;
    });
    if let Err(fault) = frames(&mut broker_rx, &mut client_tx).await {
        record(slot, fault);
    }
    let _ = client_tx.shutdown().await;
    up.abort();
}

/// Passes on the broker's frames until it ends; `Err` says why it was cut, when that matters.
async fn frames<R, W>(from: &mut R, to: &mut W) -> Result<(), Fault>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut limit = HANDSHAKE_FRAME;
    let mut seen = false;
    loop {
        let mut header = [0u8; 7];
        if let Err(e) = from.read_exact(&mut header).await {
            return if seen {
                Ok(())
            } else {
                Err(Fault::ClosedEarly(e.to_string()))
            };
        }
        let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]);
        if !matches!(header[0], 1 | 2 | 3 | 8) || size > limit {
            return Err(not_amqp(&header, size));
        }
        let mut frame = vec![0u8; 7 + size as usize + 1];
        frame[..7].copy_from_slice(&header);
        if from.read_exact(&mut frame[7..]).await.is_err() {
            return Ok(());
        }
        let payload = &frame[7..frame.len() - 1];
        if frame.last() != Some(&FRAME_END) || (header[0] == 1 && !known_method(payload)) {
            return Err(not_amqp(&header, size));
        }
        if let Some(max) = tuned_frame_max(header[0], payload) {
            limit = max;
        }
        seen = true;
        if to.write_all(&frame).await.is_err() {
            return Ok(());
        }
    }
}

fn not_amqp(header: &[u8; 7], size: u32) -> Fault {
    Fault::NotAmqp(format!(
        "it sent {:02x?} where an AMQP 0-9-1 frame header belongs (type {}, {size} bytes)",
        header, header[0]
    ))
}

/// `connection.tune`'s `frame_max` (0: no limit of the broker's own), capped at [`MAX_FRAME`].
fn tuned_frame_max(kind: u8, payload: &[u8]) -> Option<u32> {
    if kind != 1 || payload.get(..4) != Some(&[0, 10, 0, 30]) {
        return None;
    }
    let max = u32::from_be_bytes(payload.get(6..10)?.try_into().ok()?);
    Some(if max == 0 {
        MAX_FRAME
    } else {
        max.min(MAX_FRAME)
    })
}

/// The class and method ids amqprs decodes (amqprs 2.1 `frame/mod.rs`, `impl_frame!`); any
/// other pair would reach its `unimplemented!`.
fn known_method(payload: &[u8]) -> bool {
    let Some(ids) = payload.get(..4) else {
        return false;
    };
    let class = u16::from_be_bytes([ids[0], ids[1]]);
    let method = u16::from_be_bytes([ids[2], ids[3]]);
    let methods: &[u16] = match class {
        10 => &[10, 11, 20, 21, 30, 31, 40, 41, 50, 51, 60, 61, 70, 71],
        20 => &[10, 11, 20, 21, 40, 41],
        40 => &[10, 11, 20, 21, 30, 31, 40, 51],
        50 => &[10, 11, 20, 21, 30, 31, 40, 41, 50, 51],
        60 => &[
            10, 11, 20, 21, 30, 31, 40, 50, 60, 70, 71, 72, 80, 90, 110, 111, 120,
        ],
        85 => &[10, 11],
        90 => &[10, 11, 20, 21, 30, 31],
        _ => &[],
    };
    methods.contains(&method)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn relayed(input: &[u8]) -> (Result<(), Fault>, Vec<u8>) {
        let mut from = input;
        let mut out = Vec::new();
        let r = frames(&mut from, &mut out).await;
        (r, out)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn frames_pass_and_garbage_stops() {
        let heartbeat = [8, 0, 0, 0, 0, 0, 0, FRAME_END];
        let ack = [1, 0, 1, 0, 0, 0, 4, 0, 60, 0, 80, FRAME_END];
        let input = [&heartbeat[..], &ack[..]].concat();
        let (r, out) = block_on(relayed(&input));
        assert!(r.is_ok());
        assert_eq!(out, input);
        // A huge size before the tune, an unknown method, a wrong end octet.
        for bad in [
            &[1u8, 0, 0, 0x7f, 0xff, 0xff, 0xff][..],
            &[1, 0, 1, 0, 0, 0, 4, 0, 60, 0, 99, FRAME_END],
            &[8, 0, 0, 0, 0, 0, 0, 0],
        ] {
            let (r, _) = block_on(relayed(bad));
            assert!(matches!(r, Err(Fault::NotAmqp(_))), "{bad:?}: {r:?}");
        }
        let (r, out) = block_on(relayed(b""));
        assert!(matches!(r, Err(Fault::ClosedEarly(_))), "{r:?}");
        assert!(out.is_empty());
    }

    #[test]
    fn the_tune_sets_the_frame_limit() {
        let tune = [0, 10, 0, 30, 0, 0, 0, 2, 0, 0, 0, 0];
        assert_eq!(tuned_frame_max(1, &tune), Some(128 << 10));
        let unlimited = [0, 10, 0, 30, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(tuned_frame_max(1, &unlimited), Some(MAX_FRAME));
        assert_eq!(tuned_frame_max(1, &[0, 60, 0, 80]), None);
    }

    #[test]
    fn a_rustls_error_is_tls_whatever_its_words() {
        let tls = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(matches!(dial_fault(&tls), Fault::Tls(_)));
        // A TCP failure that mentions a certificate is still the TCP side.
        let tcp = std::io::Error::other("connection refused near the certificate store");
        assert!(matches!(dial_fault(&tcp), Fault::Dial(_)));
    }
}
