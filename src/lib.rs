//! disinfox-sync: DISINFOX (source) → bundle stage → OpenCTI (sink), one run per invocation.

pub mod amqp;
pub mod bundle;
pub mod cli;
pub mod commands;
pub mod config;
pub mod cursor;
pub mod disinfox;
pub mod error;
pub mod exit_codes;
pub mod http;
pub mod input;
pub mod logging;
pub mod metrics;
pub mod opencti;
pub mod output;
pub mod secret;
pub mod state;
pub mod summary;
pub mod when;
