//! The OpenCTI sink: GraphQL (no pycti). Opening a run and picking its transport (the API or
//! `amqp`) is `crate::session`, above both.

pub(crate) mod access;
pub(crate) mod capabilities;
pub(crate) mod connector;
pub(crate) mod documents;
pub(crate) mod facts;
pub(crate) mod graphql;
pub(crate) mod lookup;
pub(crate) mod push;
pub(crate) mod version;
pub(crate) mod work;

pub(crate) use connector::Platform;
pub(crate) use graphql::Graphql;
