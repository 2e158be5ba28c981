//! amqprs reports failures as text; this maps them onto the exit table. The broker's own reply
//! codes (403 ACCESS_REFUSED, 530 NOT_ALLOWED) are stable enough to read. TLS never reaches
//! amqprs (the relay dials the broker): its failures arrive typed, as `Fault::Tls`.

use super::endpoint::Endpoint;
use super::relay::Fault;
use crate::error::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    Connect,
    Channel,
    Publish,
}

pub(super) fn classify(
    stage: Stage,
    endpoint: &Endpoint,
    err: &amqprs::error::Error,
) -> anyhow::Error {
    let text = crate::secret::scrub(&err.to_string());
    let at = format!("{}:{}", endpoint.host, endpoint.port);
    kind(stage, &text, &at).into()
}

/// What the relay saw before the handshake failed (see `relay`).
pub(super) fn from_fault(endpoint: &Endpoint, fault: Fault) -> anyhow::Error {
    let at = format!("{}:{}", endpoint.host, endpoint.port);
    match fault {
        Fault::Dial(text) => kind(Stage::Connect, &crate::secret::scrub(&text), &at),
        Fault::Tls(text) => Error::Config(format!(
            "TLS to the broker at {at} failed ({}): check MQ_USE_SSL, MQ_USE_SSL_CA and the broker's certificate",
            crate::secret::scrub(&text)
        )),
        Fault::ClosedEarly(text) => Error::Temporary(format!(
            "the broker at {at} closed the connection before the AMQP handshake ({text}): check that MQ_PORT is its AMQP port (MQ_USE_SSL for a TLS port); run again later"
        )),
        Fault::NotAmqp(text) => Error::Protocol(format!(
            "what the peer at {at} sent is not AMQP 0-9-1 ({text}): check MQ_HOST, MQ_PORT and MQ_USE_SSL"
        )),
    }
    .into()
}

fn kind(stage: Stage, text: &str, at: &str) -> Error {
    let lower = text.to_ascii_lowercase();
    if stage != Stage::Connect {
        return Error::Temporary(format!("the broker at {at} failed: {text}"));
    }
    if lower.contains("access_refused") || lower.contains("403") || lower.contains("authentic") {
        return Error::Permission(format!(
            "the broker at {at} refused the credentials ({text}): check MQ_USER and MQ_PASS"
        ));
    }
    if lower.contains("not_allowed") || lower.contains("530") || lower.contains("vhost") {
        return Error::Config(format!(
            "the broker at {at} refused the virtual host ({text}): check MQ_VHOST"
        ));
    }
    if lower.contains("peer shutdown") || lower.contains("connection reset") {
        // RabbitMQ drops the socket after a refused login when the client does not ask for
        // an explicit close; nothing else closes a handshake that far in.
        return Error::Permission(format!(
            "the broker at {at} closed the connection during login ({text}): check MQ_USER and MQ_PASS"
        ));
    }
    Error::Temporary(format!(
        "cannot reach the broker at {at} ({text}): check MQ_HOST / MQ_PORT and that the port is open from here"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let k = |s, t| kind(s, t, "h:1").code().code();
        assert_eq!(k(Stage::Connect, "ACCESS_REFUSED - Login was refused"), 77);
        assert_eq!(k(Stage::Connect, "530 NOT_ALLOWED - vhost x not found"), 78);
        // Words alone no longer make a TLS failure: only `Fault::Tls` does.
        assert_eq!(
            k(Stage::Connect, "invalid peer certificate: UnknownIssuer"),
            75
        );
        assert_eq!(k(Stage::Connect, "Connection refused (os error 111)"), 75);
        assert_eq!(k(Stage::Publish, "ACCESS_REFUSED"), 75);
    }

    #[test]
    fn relay_faults() {
        let endpoint = Endpoint {
            host: "h".into(),
            port: 1,
            vhost: "/".into(),
            use_ssl: false,
            user: "u".into(),
            pass: crate::secret::Secret::new("p".into()),
            exchange: "x".into(),
            routing_key: "r".into(),
            applicant_id: None,
        };
        let code = |f| {
            let e = from_fault(&endpoint, f);
            e.downcast_ref::<Error>().unwrap().code().code()
        };
        assert_eq!(code(Fault::ClosedEarly("reset".into())), 75);
        assert_eq!(code(Fault::NotAmqp("type 7".into())), 76);
        assert_eq!(code(Fault::Dial("Connection refused".into())), 75);
        assert_eq!(code(Fault::Tls("invalid peer certificate".into())), 78);
    }
}
