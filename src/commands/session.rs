//! The OpenCTI side every writing command starts with: probe (version gates, capability),
//! then register — which is also how a connector reads its stored state.

use crate::amqp;
use crate::bundle::{Limits, Prepared};
use crate::config::{Config, QueueProtocol};
use crate::error::{Error, Result};
use crate::opencti::connector::{self, Registered};
use crate::opencti::push::{self, Pushed, Target};
use crate::opencti::{Graphql, Platform};
use crate::state::Store;
use crate::summary::Report;

pub struct Session<'c> {
    pub gql: Graphql,
    pub platform: Platform,
    pub connector_id: &'c str,
    pub registered: Registered,
    /// The broker, when bundles go over AMQP.
    pub broker: Option<amqp::Endpoint>,
    cfg: &'c Config,
}

impl<'c> Session<'c> {
    pub fn open(cfg: &'c Config) -> Result<Self> {
        let gql = Graphql::new(cfg)?;
        let over_amqp = cfg.queue_protocol == QueueProtocol::Amqp;
        let platform = connector::probe_for_import(&gql, over_amqp)?;
        let connector_id = cfg
            .connector_id
            .as_deref()
            .ok_or_else(|| Error::Config("missing CONNECTOR_ID".into()))?;
        let (registered, broker) = if over_amqp {
            let (r, b) = amqp::register(
                &gql,
                connector_id,
                &cfg.connector_name,
                &cfg.connector_scope,
                &cfg.mq,
            )?;
            (r, Some(b))
        } else {
            let r = connector::register(
                &gql,
                connector_id,
                &cfg.connector_name,
                &cfg.connector_scope,
            )?;
            (r, None)
        };
        Ok(Session {
            gql,
            platform,
            connector_id,
            registered,
            broker,
            cfg,
        })
    }

    /// As `open`, with read-only probes only: the state is read, the connector is not
    /// registered (`sync --dry-run` changes nothing).
    pub fn open_read_only(cfg: &'c Config) -> Result<Self> {
        let gql = Graphql::new(cfg)?;
        let over_amqp = cfg.queue_protocol == QueueProtocol::Amqp;
        let platform = connector::probe_for_import(&gql, over_amqp)?;
        let connector_id = cfg
            .connector_id
            .as_deref()
            .ok_or_else(|| Error::Config("missing CONNECTOR_ID".into()))?;
        let registered = connector::read_state(&gql, connector_id)?;
        // A dry run pushes nothing: the broker is neither read nor contacted.
        Ok(Session {
            gql,
            platform,
            connector_id,
            registered,
            broker: None,
            cfg,
        })
    }

    /// The connector's state in OpenCTI, as registration returned it.
    pub fn store(&self) -> Store<'_> {
        Store::Opencti {
            gql: &self.gql,
            platform: &self.platform,
            connector_id: self.connector_id,
            registered: self.registered.state.clone(),
        }
    }

    /// Pushes every chunk; the report shows what went out even when a chunk failed.
    pub fn push(&self, prepared: &Prepared, limits: &Limits, report: &mut Report) -> Result<()> {
        let target = Target {
            gql: &self.gql,
            platform: &self.platform,
            connector_id: self.connector_id,
            connector_name: &self.cfg.connector_name,
        };
        let mut pushed = Pushed::default();
        let result = match &self.broker {
            Some(endpoint) => amqp::push(
                &amqp::Target {
                    gql: &self.gql,
                    connector_id: self.connector_id,
                    connector_name: &self.cfg.connector_name,
                    endpoint,
                    cfg: self.cfg,
                },
                prepared,
                &mut pushed,
            ),
            None => push::push(&target, prepared, limits, &mut pushed),
        };
        report.chunks = pushed.chunks;
        report.bytes = pushed.bytes;
        report.work_id = pushed.work_id;
        result
    }
}
