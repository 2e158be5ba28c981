//! Opening a session with OpenCTI, in one pass: probe (version gates, CONNECTORAPI), the
//! capabilities the purpose needs, what the token's user may import into, then register —
//! which is also how a connector reads its stored state — or, for a dry run, read the state
//! without registering. The transport (`Api` or `Amqp`) is resolved here, once.

use std::time::Duration;

use crate::amqp;
use crate::bundle::{Importable, Limits};
use crate::config::{Config, QueueProtocol};
use crate::delivery::Pushed;
use crate::error::{Error, Result};
use crate::opencti::access::Access;
use crate::opencti::capabilities;
use crate::opencti::connector::{self, Platform, Registered};
use crate::opencti::facts::Facts;
use crate::opencti::graphql::Graphql;
use crate::opencti::push;
use crate::opencti::version::{self, WorkPolicy};
use crate::opencti::work::RunWork;

/// What the session is opened for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Read or write the connector's state (`reset-state`): probe and register only.
    State,
    /// Push: the token's user must be able to import what the workers take from the queue,
    /// and `wait` (`--wait`) must be able to follow the run's work. Over AMQP the registration
    /// also returns the broker and the route to publish on.
    Import { wait: Option<Duration> },
    /// As `Import`, with read-only probes only: the state is read, the connector is not
    /// registered (`sync --dry-run` changes nothing). A dry run pushes nothing, so the broker
    /// is neither asked for nor contacted.
    ReadOnly { wait: Option<Duration> },
}

/// How the bundles travel, resolved once when the session opens.
pub(crate) enum Transport {
    /// `stixBundlePush` over GraphQL.
    Api,
    /// The platform's RabbitMQ, at the endpoint registration returned.
    Amqp(amqp::Endpoint),
}

/// An open session: what every later step of the command uses.
pub(crate) struct Session<'c> {
    pub gql: Graphql,
    pub platform: Platform,
    /// The connector as OpenCTI stores it (its `id` names it in every later call).
    pub registered: Registered,
    /// What the token's user may import into (markings, draft): read by the sessions that push.
    pub access: Access,
    /// `None` for the sessions that push nothing (`State`, `ReadOnly`).
    pub transport: Option<Transport>,
    /// `--wait` was given: a push must leave a work to follow.
    pub needs_work: bool,
    pub cfg: &'c Config,
}

/// Opens a session for `purpose`: every probe, check and the one registration (or state read).
pub(crate) fn open(cfg: &Config, purpose: Purpose) -> Result<Session<'_>> {
    let over_amqp = cfg.queue_protocol == QueueProtocol::Amqp;
    let peer = cfg.opencti()?;
    let gql = Graphql::new(peer, &cfg.http)?;
    let platform = connector::probe_for_import(&gql, over_amqp)?;
    let (wait, imports) = match purpose {
        Purpose::State => (None, false),
        Purpose::Import { wait } | Purpose::ReadOnly { wait } => (wait, true),
    };
    let access = match imports {
        true => {
            capabilities::require_worker_import(&platform)?;
            if wait.is_some() {
                require_wait(&platform, over_amqp)?;
            }
            Access::for_import(&gql, &platform)?
        }
        false => Access::default(),
    };
    let id = peer.connector_id.as_str();
    let (name, scope) = (&cfg.connector_name, &cfg.connector_scope);
    let (registered, transport) = match purpose {
        Purpose::ReadOnly { .. } => (connector::read_state(&gql, id)?, None),
        Purpose::State => (connector::register(&gql, &platform, id, name, scope)?, None),
        Purpose::Import { .. } if over_amqp => {
            let (r, broker) = amqp::register(&gql, &platform, id, name, scope, &cfg.mq)?;
            (r, Some(Transport::Amqp(broker)))
        }
        Purpose::Import { .. } => {
            let r = connector::register(&gql, &platform, id, name, scope)?;
            (r, Some(Transport::Api))
        }
    };
    Ok(Session {
        gql,
        platform,
        registered,
        access,
        transport,
        needs_work: matches!(purpose, Purpose::Import { wait: Some(_) }),
        cfg,
    })
}

impl Session<'_> {
    pub(crate) fn connector_id(&self) -> &str {
        &self.registered.id
    }

    /// Pushes every object by the session's transport, in the run's work; `pushed` shows what
    /// went out even when a chunk failed. Refuses first (78) a bundle whose markings the
    /// token's user may not use.
    pub(crate) fn push<B: Importable>(
        &self,
        (bundle, facts): (&B, &Facts),
        limits: &Limits,
        pushed: &mut Pushed,
    ) -> Result<()> {
        self.access.require(&self.gql, &facts.carried)?;
        capabilities::warn_missing(&self.platform, &facts.needs);
        let Some(transport) = &self.transport else {
            return Err(anyhow::anyhow!(
                "this OpenCTI session was opened to read the state, not to push"
            ));
        };
        let over_amqp = matches!(transport, Transport::Amqp(_));
        let run = RunWork {
            gql: &self.gql,
            connector_id: self.connector_id(),
            connector_name: &self.cfg.connector_name,
            policy: WorkPolicy::for_transport(&self.platform.features, over_amqp),
            needs_work: self.needs_work,
        };
        match transport {
            Transport::Amqp(endpoint) => amqp::push(
                &amqp::Target {
                    run: &run,
                    endpoint,
                    cfg: self.cfg,
                },
                bundle,
                pushed,
            ),
            Transport::Api => push::push(&run, bundle, limits, pushed),
        }
    }

    /// The connector's queue (see `connector::queue`).
    pub(crate) fn queue(&self) -> Option<connector::Queue> {
        connector::queue(&self.gql, &self.platform, self.connector_id())
    }
}

/// Over AMQP the run opens its own work on every release (as pycti does), so only reading it
/// needs a capability; over the API a push can name a work from 6.5.7.
fn require_wait(platform: &Platform, over_amqp: bool) -> Result<()> {
    if !over_amqp && !platform.features.has_works() {
        return Err(Error::Unavailable(format!(
            "--wait follows the run's work in OpenCTI, which OpenCTI {} cannot name in a push (needs {}): drop --wait, upgrade OpenCTI, or push over its broker (CONNECTOR_QUEUE_PROTOCOL=amqp), which opens a work on every release",
            platform.version_text,
            version::WORK_ID
        ))
        .into());
    }
    if !platform.has("MODULES") {
        return Err(Error::Permission(format!(
            "--wait reads the run's work, which needs the MODULES capability; the token's user '{}' lacks it: give it the \"Connector\" role, or drop --wait",
            platform.user_name
        ))
        .into());
    }
    Ok(())
}
