//! A blocking face over the async AMQP client: one small runtime (one worker thread) per run,
//! one connection, one channel in publisher-confirm mode. The CLI stays one-shot; nothing
//! outlives the `Client`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use amqprs::callbacks::{ChannelCallback, ConnectionCallback};
use amqprs::channel::{
    BasicPublishArguments, Channel, ConfirmSelectArguments, ExchangeDeclareArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::security::SecurityCredentials;
use amqprs::{Ack, BasicProperties, Cancel, Close, CloseChannel, Nack, Return};
use tokio::runtime::Runtime;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::endpoint::Endpoint;
use super::errors::{self, Stage};
use super::relay::{Fault, Relay};
use crate::config::MqSettings;
use crate::error::{Error, Result};

type AmqpResult<T> = std::result::Result<T, amqprs::error::Error>;

/// What the broker said about published messages.
#[derive(Debug)]
enum Event {
    Ack {
        tag: u64,
        multiple: bool,
    },
    Nack {
        tag: u64,
        multiple: bool,
    },
    /// A `mandatory` message no queue took (it is acked afterwards all the same).
    Returned(String),
    Closed(String),
}

pub(crate) struct Client {
    rt: Runtime,
    /// Always `Some` until dropped: amqprs' handles must be dropped inside the runtime.
    live: Option<Live>,
    relay: Relay,
    events: UnboundedReceiver<Event>,
    endpoint: Endpoint,
    /// Delivery tags run from 1 on a confirm-mode channel.
    published: u64,
    timeout: Duration,
}

struct Live {
    conn: Connection,
    channel: Channel,
}

/// Publishing a batch failed in a way a retry can fix (NACK, unroutable).
#[derive(Debug)]
pub(crate) struct Rejected(pub String);

impl Client {
    /// Connects, opens the vhost and a confirm-mode channel. `timeout` bounds each step.
    pub(crate) fn connect(
        endpoint: &Endpoint,
        mq: &MqSettings,
        timeout: Duration,
    ) -> Result<Client> {
        // One worker thread drives the socket in the background, so heartbeats go on while
        // the main thread talks to OpenCTI or builds the next batch.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("amqp")
            .enable_all()
            .build()
            .map_err(|e| Error::LocalIo(format!("cannot start the AMQP runtime: {e}")))?;
        let tls = if endpoint.use_ssl {
            let config = super::tls::client_config(mq)?;
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        } else {
            None
        };
        let (tx, events) = unbounded_channel();
        let (conn, channel, relay) = rt.block_on(async {
            let (conn, relay) = open(endpoint, tls, timeout).await?;
            conn.register_callback(OnConnection(tx.clone()))
                .await
                .map_err(|e| errors::classify(Stage::Channel, endpoint, &e))?;
            let channel =
                within(timeout, Stage::Channel, endpoint, conn.open_channel(None)).await?;
            channel
                .register_callback(OnChannel(tx.clone()))
                .await
                .map_err(|e| errors::classify(Stage::Channel, endpoint, &e))?;
            within(
                timeout,
                Stage::Channel,
                endpoint,
                channel.confirm_select(ConfirmSelectArguments::default()),
            )
            .await?;
            Ok::<_, anyhow::Error>((conn, channel, relay))
        })?;
        log::info!("connected to the broker at {}", endpoint.describe());
        Ok(Client {
            rt,
            live: Some(Live { conn, channel }),
            relay,
            events,
            endpoint: endpoint.clone(),
            published: 0,
            timeout,
        })
    }

    /// The push exchange exists (a passive declare, on a channel of its own: a failed declare
    /// closes the channel it ran on).
    pub(crate) fn check_exchange(&self) -> Result<()> {
        let endpoint = &self.endpoint;
        self.rt.block_on(async {
            let ch = within(
                self.timeout,
                Stage::Channel,
                endpoint,
                self.live().conn.open_channel(None),
            )
            .await?;
            let mut args = ExchangeDeclareArguments::new(&endpoint.exchange, "direct");
            args.passive(true);
            match tokio::time::timeout(self.timeout, ch.exchange_declare(args)).await {
                Ok(Ok(())) => {
                    let _ = ch.close().await;
                    Ok(())
                }
                Ok(Err(e)) => Err(Error::Config(format!(
                    "the broker has no push exchange '{}' in vhost '{}' ({e}): check the vhost and that the connector is registered",
                    endpoint.exchange, endpoint.vhost
                ))
                .into()),
                Err(_) => Err(Error::Temporary(format!(
                    "the broker did not answer within {}s",
                    self.timeout.as_secs()
                ))
                .into()),
            }
        })
    }

    /// Publishes every body (persistent, `mandatory`, to the push exchange and routing key) and
    /// waits until the broker confirmed each. `Ok(Err(Rejected))`: a NACK or an unroutable
    /// message, worth a retry; `Err`: the connection failed.
    pub(crate) fn publish_confirmed(
        &mut self,
        bodies: &[Vec<u8>],
    ) -> Result<std::result::Result<(), Rejected>> {
        let first = self.published + 1;
        let mut props = BasicProperties::default();
        props
            .with_delivery_mode(amqprs::DELIVERY_MODE_PERSISTENT)
            .with_content_encoding("utf-8");
        let args = BasicPublishArguments::new(&self.endpoint.exchange, &self.endpoint.routing_key)
            .mandatory(true)
            .finish();
        for body in bodies {
            let channel = &self.live().channel;
            self.rt
                .block_on(channel.basic_publish(props.clone(), body.clone(), args.clone()))
                .map_err(|e| errors::classify(Stage::Publish, &self.endpoint, &e))?;
            self.published += 1;
        }
        self.await_confirms(first, self.published)
    }

    fn await_confirms(
        &mut self,
        first: u64,
        last: u64,
    ) -> Result<std::result::Result<(), Rejected>> {
        let mut pending = Pending::new(first, last);
        let mut rejected: Option<String> = None;
        while !pending.is_empty() {
            let event = match self.next_event() {
                Ok(Some(e)) => e,
                Ok(None) => return Err(self.lost("the connection ended")),
                Err(()) => {
                    return Err(Error::Temporary(format!(
                        "the broker confirmed {} of {} messages within {}s; giving up on this run",
                        pending.settled(),
                        pending.total,
                        self.timeout.as_secs()
                    ))
                    .into());
                }
            };
            match event {
                Event::Ack { tag, multiple } => pending.settle(tag, multiple),
                Event::Nack { tag, multiple } => {
                    pending.settle(tag, multiple);
                    rejected.get_or_insert_with(|| "the broker refused a message (NACK)".into());
                }
                Event::Returned(why) => {
                    rejected.get_or_insert(format!(
                        "the broker could not route a message to a queue ({why}): is the connector registered on this broker and vhost?"
                    ));
                }
                Event::Closed(why) => return Err(self.lost(&why)),
            }
        }
        Ok(rejected.map_or(Ok(()), |why| Err(Rejected(why))))
    }

    /// The next confirm, `Ok(None)` once the connection is gone, `Err` after `timeout` of
    /// silence. A dead socket closes no callback, so the connection's state is polled too.
    fn next_event(&mut self) -> std::result::Result<Option<Event>, ()> {
        let slice = Duration::from_millis(200);
        let deadline = std::time::Instant::now() + self.timeout;
        while std::time::Instant::now() < deadline {
            let events = &mut self.events;
            let got = self
                .rt
                .block_on(async { tokio::time::timeout(slice, events.recv()).await });
            let live = self.live();
            match got {
                Ok(event) => return Ok(event),
                Err(_) if !live.conn.is_open() || !live.channel.is_open() => return Ok(None),
                Err(_) => {}
            }
        }
        Err(())
    }

    /// The connection ended before every confirm came: what the relay saw, if it cut it (76
    /// for a broker that sent something other than AMQP), else a temporary failure.
    fn lost(&self, why: &str) -> anyhow::Error {
        match self.relay.fault() {
            Some(fault @ Fault::NotAmqp(_)) => errors::from_fault(&self.endpoint, fault),
            _ => lost(&self.endpoint, why),
        }
    }

    fn live(&self) -> &Live {
        self.live.as_ref().expect("open until dropped")
    }

    pub(crate) fn close(mut self) {
        let limit = self.timeout;
        if let Some(Live { conn, channel }) = self.live.take() {
            self.rt.block_on(async {
                let _ = tokio::time::timeout(limit, channel.close()).await;
                let _ = tokio::time::timeout(limit, conn.close()).await;
            });
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _inside = self.rt.enter();
        self.live.take();
    }
}

/// The delivery tags of a batch the broker has not settled yet. Confirms may come in any
/// order (RabbitMQ: "the broker may confirm messages in any order"), so each tag is tracked:
/// an ack or nack settles its own tag, and those below it only when `multiple` is set.
#[derive(Debug)]
struct Pending {
    waiting: BTreeSet<u64>,
    total: u64,
}

impl Pending {
    fn new(first: u64, last: u64) -> Pending {
        Pending {
            waiting: (first..=last).collect(),
            total: last + 1 - first,
        }
    }

    fn settle(&mut self, tag: u64, multiple: bool) {
        if multiple {
            self.waiting = match tag.checked_add(1) {
                Some(above) => self.waiting.split_off(&above),
                None => BTreeSet::new(),
            };
        } else {
            self.waiting.remove(&tag);
        }
    }

    fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    fn settled(&self) -> u64 {
        self.total - self.waiting.len() as u64
    }
}

/// Opens the connection through the [`Relay`], which dials the broker (TLS included) and
/// checks what it sends; a failed handshake is explained by what the relay saw, if anything.
async fn open(
    endpoint: &Endpoint,
    tls: Option<tokio_rustls::TlsConnector>,
    timeout: Duration,
) -> Result<(Connection, Relay)> {
    let relay = Relay::start(endpoint, tls).await.map_err(|e| {
        Error::LocalIo(format!(
            "cannot open a loopback port for the AMQP relay: {e}"
        ))
    })?;
    let mut args = OpenConnectionArguments::new(
        "127.0.0.1",
        relay.port,
        &endpoint.user,
        endpoint.pass.expose(),
    );
    args.virtual_host(&endpoint.vhost)
        .heartbeat(10)
        .connection_name("disinfox-sync")
        .credentials(SecurityCredentials::new_plain(
            &endpoint.user,
            endpoint.pass.expose(),
        ));
    match within(timeout, Stage::Connect, endpoint, Connection::open(&args)).await {
        Ok(conn) => Ok((conn, relay)),
        Err(e) => Err(relay.fault().map_or(e, |f| errors::from_fault(endpoint, f))),
    }
}

fn lost(endpoint: &Endpoint, why: &str) -> anyhow::Error {
    Error::Temporary(format!(
        "lost the broker at {}:{} before every message was confirmed ({why}); nothing was committed, run again later",
        endpoint.host, endpoint.port
    ))
    .into()
}

async fn within<T>(
    limit: Duration,
    stage: Stage,
    endpoint: &Endpoint,
    fut: impl std::future::Future<Output = AmqpResult<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(errors::classify(stage, endpoint, &e)),
        Err(_) => Err(Error::Temporary(format!(
            "the broker at {}:{} did not answer within {}s",
            endpoint.host,
            endpoint.port,
            limit.as_secs()
        ))
        .into()),
    }
}

struct OnConnection(UnboundedSender<Event>);

#[async_trait::async_trait]
impl ConnectionCallback for OnConnection {
    async fn close(&mut self, _: &Connection, close: Close) -> AmqpResult<()> {
        let _ = self.0.send(Event::Closed(format!(
            "the broker closed the connection: {close}"
        )));
        Ok(())
    }
    async fn blocked(&mut self, _: &Connection, reason: String) {
        log::warn!("the broker blocks publishing: {reason}");
    }
    async fn unblocked(&mut self, _: &Connection) {}
    async fn secret_updated(&mut self, _: &Connection) {}
}

struct OnChannel(UnboundedSender<Event>);

#[async_trait::async_trait]
impl ChannelCallback for OnChannel {
    async fn close(&mut self, _: &Channel, close: CloseChannel) -> AmqpResult<()> {
        let _ = self.0.send(Event::Closed(format!(
            "the broker closed the channel: {close}"
        )));
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, _: Cancel) -> AmqpResult<()> {
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, active: bool) -> AmqpResult<bool> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
        let _ = self.0.send(Event::Ack {
            tag: ack.delivery_tag(),
            multiple: ack.mutiple(),
        });
    }
    async fn publish_nack(&mut self, _: &Channel, nack: Nack) {
        let _ = self.0.send(Event::Nack {
            tag: nack.delivery_tag(),
            multiple: nack.multiple(),
        });
    }
    async fn publish_return(&mut self, _: &Channel, ret: Return, _: BasicProperties, _: Vec<u8>) {
        let _ = self.0.send(Event::Returned(format!(
            "{} {}",
            ret.reply_code(),
            ret.reply_text()
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::Pending;

    #[test]
    fn a_single_ack_settles_only_its_own_tag() {
        let mut p = Pending::new(1, 3);
        p.settle(3, false);
        assert_eq!(p.settled(), 1);
        assert!(!p.is_empty(), "tags 1 and 2 are still unconfirmed");
        p.settle(1, false);
        p.settle(2, false);
        assert!(p.is_empty());
    }

    #[test]
    fn a_multiple_ack_settles_every_tag_up_to_its_own() {
        let mut p = Pending::new(5, 9);
        p.settle(7, true);
        assert_eq!(p.settled(), 3);
        p.settle(9, false);
        assert_eq!(p.settled(), 4, "tag 8 is still waiting");
        p.settle(8, true);
        assert!(p.is_empty());
        p.settle(u64::MAX, true);
        assert!(p.is_empty());
    }
}
