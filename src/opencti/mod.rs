//! The OpenCTI sink: a pure-HTTP connector (GraphQL only; no pycti, no RabbitMQ).

pub mod access;
pub mod capabilities;
pub mod connector;
pub mod documents;
pub mod graphql;
pub mod lookup;
pub mod push;
pub mod version;
pub mod work;

pub use connector::Platform;
pub use graphql::Graphql;
