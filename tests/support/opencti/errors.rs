//! GraphQL errors in the Apollo 4 or Apollo 3 shape, and the HTTP answers that are not
//! GraphQL (proxy pages, 429).

use super::*;

#[derive(Debug, Clone)]
pub(super) struct GqlError {
    pub(super) code: String,
    pub(super) message: String,
    pub(super) cause: Option<String>,
    pub(super) path: Vec<Value>,
    pub(super) locations: Vec<Value>,
}

impl GqlError {
    pub(super) fn new(code: &str, message: impl Into<String>) -> Self {
        GqlError {
            code: code.into(),
            message: message.into(),
            cause: None,
            path: Vec::new(),
            locations: Vec::new(),
        }
    }
    pub(super) fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }
    pub(super) fn at(mut self, path: &[&str]) -> Self {
        self.path = path.iter().map(|p| json!(p)).collect();
        self
    }
}

pub(super) fn code_meta(code: &str) -> (u16, &'static str) {
    match code {
        "AUTH_REQUIRED" | "AUTH_FAILURE" => (401, "TECHNICAL"),
        "FORBIDDEN_ACCESS" => (403, "TECHNICAL"),
        "FUNCTIONAL_ERROR"
        | "UNSUPPORTED_ERROR"
        | "VALIDATION_ERROR"
        | "MISSING_REFERENCE_ERROR" => (500, "BUSINESS"),
        "GRAPHQL_VALIDATION_FAILED" | "GRAPHQL_PARSE_FAILED" | "BAD_USER_INPUT" | "BAD_REQUEST" => {
            (400, "TECHNICAL")
        }
        _ => (500, "TECHNICAL"),
    }
}

pub(super) fn default_message(code: &str) -> String {
    match code {
        "AUTH_REQUIRED" => "You must be logged in to do this.".into(),
        "FORBIDDEN_ACCESS" => "You are not allowed to do this.".into(),
        "LOCK_ERROR" => "Execution timeout, too many concurrent call on the same entities".into(),
        "DATABASE_ERROR" => "A database error has occurred".into(),
        other => format!("{other} (injected by the stand-in)"),
    }
}

impl Inner {
    pub(super) fn error_json(&self, e: &GqlError) -> Value {
        let (http_status, genre) = code_meta(&e.code);
        let request_level = matches!(
            e.code.as_str(),
            "GRAPHQL_VALIDATION_FAILED" | "GRAPHQL_PARSE_FAILED" | "BAD_USER_INPUT" | "BAD_REQUEST"
        );
        let mut o = Map::new();
        if self.apollo4 {
            o.insert("message".into(), json!(e.message));
            if !e.locations.is_empty() {
                o.insert("locations".into(), Value::Array(e.locations.clone()));
            }
            if !e.path.is_empty() {
                o.insert("path".into(), Value::Array(e.path.clone()));
            }
            let mut ext = Map::new();
            ext.insert("code".into(), json!(e.code));
            if !request_level {
                let mut data = json!({"http_status": http_status, "genre": genre});
                if let Some(c) = &e.cause {
                    data["cause"] = json!(c);
                }
                ext.insert("data".into(), data);
            }
            o.insert("extensions".into(), Value::Object(ext));
            o.insert("name".into(), json!(e.code));
        } else {
            o.insert("name".into(), json!(e.code));
            o.insert("message".into(), json!(e.message));
            o.insert("time_thrown".into(), json!(iso(now())));
            let mut data = json!({"http_status": http_status, "genre": genre});
            if let Some(c) = &e.cause {
                data["cause"] = json!(c);
            }
            o.insert("data".into(), data);
            if !e.locations.is_empty() {
                o.insert("locations".into(), Value::Array(e.locations.clone()));
            }
            if !e.path.is_empty() {
                o.insert("path".into(), Value::Array(e.path.clone()));
            }
        }
        Value::Object(o)
    }

    pub(super) fn errors_only(&self, errors: &[GqlError]) -> Value {
        json!({ "errors": errors.iter().map(|e| self.error_json(e)).collect::<Vec<_>>() })
    }
}

pub(super) fn gql_response(status: u16, body: &Value) -> Response {
    Response::new(
        status,
        "application/json; charset=utf-8",
        serde_json::to_vec(body).expect("serialize"),
    )
}

pub(super) fn proxy_html(status: u16) -> Response {
    let title = match status {
        502 => "502 Bad Gateway",
        503 => "503 Service Temporarily Unavailable",
        504 => "504 Gateway Time-out",
        413 => "413 Request Entity Too Large",
        _ => "Error",
    };
    Response::html(
        status,
        format!(
            "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        ),
    )
}

pub(super) fn too_many(retry_after: Option<u64>) -> Response {
    let mut r = Response::json(
        429,
        "{\"message\":\"Too many requests, please try again later.\"}",
    );
    if let Some(s) = retry_after {
        r = r.with_header("Retry-After", s.to_string());
    }
    r
}

pub(super) fn elide(v: &Value) -> Value {
    match v {
        Value::String(s) if s.len() > 4096 => json!(format!("<{} bytes>", s.len())),
        Value::Array(a) => Value::Array(a.iter().map(elide).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), elide(x))).collect()),
        other => other.clone(),
    }
}
