//! disinfox-sync: DISINFOX (source) → bundle stage → OpenCTI (sink), one run per invocation.

pub(crate) mod amqp;
pub mod bundle;
pub mod cli;
pub mod commands;
pub(crate) mod config;
pub(crate) mod cursor;
pub(crate) mod delivery;
pub(crate) mod disinfox;
pub mod error;
pub mod exit_codes;
pub mod http;
pub(crate) mod input;
pub mod logging;
pub mod metrics;
pub mod opencti;
pub mod output;
pub mod parsers;
pub(crate) mod progress;
pub mod retry;
pub(crate) mod roots;
pub(crate) mod secret;
pub(crate) mod session;
pub(crate) mod spool;
pub(crate) mod state;
pub(crate) mod summary;
pub(crate) mod when;
