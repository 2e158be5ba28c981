//! What a push has delivered so far, whichever transport carried it (the API's
//! `stixBundlePush` or AMQP publishes): the command's report is filled from it, even when the
//! push failed half-way.

/// The progress of one run's push.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pushed {
    /// Units sent and accepted: chunks over the API, messages over AMQP.
    pub chunks: usize,
    pub objects: usize,
    /// Bytes as sent: the escaped bundles inside the request bodies, or the message bodies.
    pub bytes: u64,
    /// The run's work, when it has one.
    pub work_id: Option<String>,
    /// Pushes sent, answered or not: a push that timed out may still have been queued.
    pub attempted: usize,
}
