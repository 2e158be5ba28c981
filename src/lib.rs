//! disinfox-sync: DISINFOX (source) → bundle stage → OpenCTI (sink), one run per invocation.

pub(crate) mod amqp;
pub(crate) mod bundle;
pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod config;
pub(crate) mod cursor;
pub(crate) mod delivery;
pub(crate) mod disinfox;
pub(crate) mod error;
pub(crate) mod exit_codes;
pub(crate) mod http;
pub(crate) mod input;
pub(crate) mod logging;
pub(crate) mod metrics;
pub(crate) mod opencti;
pub(crate) mod output;
pub(crate) mod parsers;
pub(crate) mod process;
pub(crate) mod progress;
pub(crate) mod retry;
pub(crate) mod roots;
pub(crate) mod secret;
pub(crate) mod session;
pub(crate) mod spool;
pub(crate) mod state;
pub(crate) mod summary;
#[doc(hidden)]
pub mod testing;
pub(crate) mod when;

/// The binary: runs one command and says how it ended.
pub fn run() -> std::process::ExitCode {
    process::main()
}
