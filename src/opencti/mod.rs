//! The OpenCTI sink: GraphQL (no pycti); `session` opens a run and picks its transport (the API or `amqp`).

pub mod access;
pub mod capabilities;
pub mod connector;
pub mod documents;
pub mod graphql;
pub mod lookup;
pub mod push;
pub mod session;
pub mod version;
pub mod work;

pub use connector::Platform;
pub use graphql::Graphql;
