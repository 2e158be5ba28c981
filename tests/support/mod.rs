//! Stand-in servers and the bundle generator, shared by the integration tests, the `standins`
//! example (`make demo`) and the benchmarks. Loopback only (127.0.0.1, free port); every server
//! stops on drop and by itself when idle.
#![allow(dead_code)]

pub mod bad_bundles;
pub mod broker;
pub mod certs;
pub mod disinfox;
pub mod generator;
pub mod http;
pub mod knowledge;
pub mod opencti;
pub mod platform;
pub mod rabbitmq;
pub mod version;
