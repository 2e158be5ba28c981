//! What the tests, the benchmarks and the stand-ins reach of the crate, and nothing else: every
//! other module is private, so rustc reports what nothing uses. Not an API.

/// The bundle stage, for `tests/bench/stage.rs` and the well-known objects' fixtures.
pub mod bundle {
    pub use crate::bundle::{
        ChunkPlan, Limits, Prepared, WELL_KNOWN, parse, prepare, pushed_objects,
    };
}

/// The GraphQL documents and their release gates, for the schema contract tests.
pub mod opencti {
    pub mod documents {
        pub use crate::opencti::documents::{
            ALL, Document, MARKINGS, connector_info, ids_filter, markings_filter, register_input,
        };
    }
    pub mod version {
        pub use crate::opencti::version::{CONNECTOR_INFO, Version};
    }
}

pub use crate::commands::generate::render_all;
pub use crate::exit_codes::{ExitCode, help_text, markdown};
pub use crate::http::install_crypto_provider;
pub use crate::metrics::parse as parse_metrics;
pub use crate::parsers::parse_size;
