//! The AMQP transport (`CONNECTOR_QUEUE_PROTOCOL=amqp`): bundles go straight to the platform's
//! RabbitMQ, as pycti connectors send them by default. It serves every release from 6.0.0,
//! including those without HTTP ingestion (before 6.2.6), and keeps the API node out of the
//! data path. The platform still does everything else (registration, works, state).

mod client;
mod endpoint;
mod errors;
mod message;
mod push;
mod relay;
mod tls;

pub(crate) use client::Client;
pub(crate) use endpoint::{Endpoint, register};
pub(crate) use push::{Target, push};
