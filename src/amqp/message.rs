//! The message pycti's `_send_bundle` publishes, key for key: a bundle of one object, base64
//! in `content`, and the work it counts towards.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

pub(super) struct Meta<'a> {
    pub applicant_id: Option<&'a str>,
    pub work_id: Option<&'a str>,
}

/// `{"bundle_type":"QUEUE_BUNDLE","applicant_id",…,"action_sequence","entities_types",
/// "content","update","draft_id","work_id"}`. `update` is true: the run upserts, as the
/// platform's own `stixBundlePush` does. `draft_id` is `""`, never `null`: the worker imports a
/// `null` draft into the user's current draft context (6.5+), while `""` sets its
/// `opencti-draft-id` header empty and so imports into the live knowledge, as the run means to.
pub(super) fn body(meta: &Meta, sequence: usize, object: &[u8], scratch: &mut Vec<u8>) -> Vec<u8> {
    single_bundle(object, scratch);
    let mut message = json!({
        "bundle_type": "QUEUE_BUNDLE",
        "applicant_id": meta.applicant_id,
        "action_sequence": sequence,
        "entities_types": [],
        "content": STANDARD.encode(&scratch[..]),
        "update": true,
        "draft_id": "",
    });
    if let Some(w) = meta.work_id {
        message["work_id"] = json!(w);
    }
    serde_json::to_vec(&message).unwrap_or_default()
}

/// pycti's splitter gives each object a bundle of its own; the object's text is kept as read.
fn single_bundle(object: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(b"{\"type\":\"bundle\",\"id\":\"bundle--");
    out.extend_from_slice(uuid::Uuid::new_v4().to_string().as_bytes());
    out.extend_from_slice(b"\",\"spec_version\":\"2.1\",\"objects\":[");
    out.extend_from_slice(object);
    out.extend_from_slice(b"]}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_leaves_the_draft_context() {
        let input = br#"{"type":"bundle","id":"bundle--5d0ff5ac-4ef4-4f5b-8d2c-0d2c1c7e6f01","objects":[{"type":"identity","spec_version":"2.1","id":"identity--5d0ff5ac-4ef4-4f5b-8d2c-0d2c1c7e6f02","name":"x"}]}"#;
        let prepared = crate::bundle::prepare(crate::bundle::parse(input).unwrap());
        let object = prepared.objects()[0].raw.as_bytes();
        let meta = Meta {
            applicant_id: Some("u1"),
            work_id: None,
        };
        let body = body(&meta, 1, object, &mut Vec::new());
        let message: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(message["draft_id"], "", "{message}");
    }
}
