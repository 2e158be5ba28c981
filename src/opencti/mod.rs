//! The OpenCTI sink: GraphQL (no pycti). Opening a run and picking its transport (the API or
//! `amqp`) is `crate::session`, above both.

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
