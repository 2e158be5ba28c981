//! The one integration-test binary (one link instead of many on small machines).

// A test or example crate has no public API: `pub` in its modules is how they share code.
#![allow(unreachable_pub)]

#[path = "../support/mod.rs"]
mod support;

mod access;
mod alerts;
mod amqp;
mod amqp_broker;
mod architecture;
mod async_import;
mod check;
mod common;
mod contract;
mod dist;
mod fetch;
mod fixtures;
mod flags;
mod footguns;
mod generated;
mod hostile;
mod ledger;
mod ledger_standins;
mod metrics;
mod push;
mod pycti;
mod readme;
mod redirects;
mod scale;
mod sdl_contract;
mod secrets;
mod services;
mod settings;
mod standins;
mod startup;
mod sync;
mod systemd;
mod tls;
mod tools;
mod verdicts;
mod verify;
