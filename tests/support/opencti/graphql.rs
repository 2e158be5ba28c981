//! The HTTP entry point and request dispatch: body limit and injected faults, document
//! execution, capability checks and the root fields.

use super::*;

#[derive(serde::Deserialize)]
pub(super) struct GraphqlBody {
    query: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
}

pub(super) struct Outcome {
    response: Response,
    root_fields: Vec<String>,
    is_push: bool,
}

pub(super) fn handle(inner: &Inner, req: &Request) -> Response {
    let route = if !inner.base_path.is_empty() && req.path.starts_with(&inner.base_path) {
        &req.path[inner.base_path.len()..]
    } else {
        req.path.as_str()
    };
    let route = route.trim_end_matches('/');
    if route != "/graphql" {
        return Response::html(
            404,
            format!(
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot {} {}</pre>\n</body>\n</html>\n",
                req.method, req.path
            ),
        );
    }
    let mut record = RecordedGraphql {
        query: String::new(),
        operation_name: None,
        variables: Value::Null,
        authorization: req.header("authorization").is_some(),
        headers: req.headers.clone(),
        root_fields: Vec::new(),
        status: 0,
        error_codes: Vec::new(),
        body_bytes: req.content_length,
    };
    let (response, slow) = handle_graphql(inner, req, &mut record);
    record.status = response.status;
    if response.status == 200
        && let Ok(v) = serde_json::from_slice::<Value>(&response.body)
        && let Some(errs) = v.get("errors").and_then(Value::as_array)
    {
        record.error_codes = errs
            .iter()
            .filter_map(|e| e.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
    }
    let trickle = match &lock(&inner.state).fault {
        Fault::Trickle { pause } => Some(*pause),
        _ => None,
    };
    lock(&inner.state).requests.push(record);
    let response = match trickle {
        Some(pause) => response.trickled(pause),
        None => response,
    };
    match slow {
        Some(d) => response.with_delay(d),
        None => response,
    }
}

pub(super) fn handle_graphql(
    inner: &Inner,
    req: &Request,
    record: &mut RecordedGraphql,
) -> (Response, Option<Duration>) {
    // Transport-level faults (a proxy or the rate limiter in front).
    let (slow, slow_push) = {
        let mut st = lock(&inner.state);
        let mut clear = false;
        let early = match &mut st.fault {
            Fault::TooMany { times, retry_after } if *times > 0 => {
                *times -= 1;
                clear = *times == 0;
                Some(too_many(*retry_after))
            }
            Fault::Unavailable503 { times } if *times > 0 => {
                *times -= 1;
                clear = *times == 0;
                Some(proxy_html(503))
            }
            _ => None,
        };
        if clear {
            st.fault = Fault::None;
        }
        if let Some(r) = early {
            return (r, None);
        }
        match &st.fault {
            Fault::Slow { delay } => (Some(*delay), None),
            Fault::SlowPush { delay } => (None, Some(*delay)),
            _ => (None, None),
        }
    };
    if req.method != "POST" {
        return (
            gql_response(
                400,
                &json!({"errors": [{"message": "GET query missing.", "extensions": {"code": "BAD_REQUEST"}}]}),
            ),
            slow,
        );
    }
    if req.body_too_large || req.content_length > inner.opts.body_limit {
        return (
            Response::html(
                413,
                "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>PayloadTooLargeError: request entity too large</pre>\n</body>\n</html>\n",
            ),
            slow,
        );
    }
    let body: GraphqlBody = match serde_json::from_slice(&req.body) {
        Ok(b) => b,
        Err(e) => {
            return (
                gql_response(
                    400,
                    &json!({"errors": [{"message": format!("Unexpected token in JSON body: {e}"), "extensions": {"code": "BAD_REQUEST"}}]}),
                ),
                slow,
            );
        }
    };
    record.query = body.query.clone().unwrap_or_default();
    record.operation_name = body.operation_name.clone();
    record.variables = body.variables.as_ref().map(elide).unwrap_or(Value::Null);
    let outcome = execute_request(inner, req, body);
    record.root_fields = outcome.root_fields;
    let delay = if outcome.is_push {
        slow_push.or(slow)
    } else {
        slow
    };
    (outcome.response, delay)
}

pub(super) fn execute_request(inner: &Inner, req: &Request, body: GraphqlBody) -> Outcome {
    let mut outcome = Outcome {
        response: Response::json(500, "{}"),
        root_fields: Vec::new(),
        is_push: false,
    };
    let query = match body.query {
        Some(q) if !q.trim().is_empty() => q,
        _ => {
            outcome.response = gql_response(
                400,
                &json!({"errors": [{"message": "GraphQL operations must contain a non-empty `query` or a `persistedQuery` extension.", "extensions": {"code": "BAD_REQUEST"}}]}),
            );
            return outcome;
        }
    };
    let doc = match inner.document(&query) {
        Ok(d) => d,
        Err(errors) => {
            outcome.response = gql_response(200, &json!({ "errors": errors }));
            return outcome;
        }
    };
    let operation = match doc.operations.get(body.operation_name.as_deref()) {
        Ok(op) => op.clone(),
        Err(e) => {
            let err = GqlError::new("BAD_REQUEST", e.message().to_string());
            outcome.response = gql_response(200, &inner.errors_only(&[err]));
            return outcome;
        }
    };
    let raw_vars = match body.variables {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            let err = GqlError::new(
                "BAD_REQUEST",
                "`variables` in a POST body should be provided as an object.",
            );
            outcome.response = gql_response(400, &inner.errors_only(&[err]));
            return outcome;
        }
    };
    let vars = match coerce_variables(&inner.schema, &operation, &raw_vars) {
        Ok(v) => v,
        Err(msg) => {
            outcome.response = gql_response(
                200,
                &inner.errors_only(&[GqlError::new("BAD_USER_INPUT", msg)]),
            );
            return outcome;
        }
    };
    let roots = collect_fields(&doc, &operation.selection_set, &vars);
    outcome.root_fields = roots.iter().map(|f| f.name.to_string()).collect();
    outcome.is_push = outcome.root_fields.iter().any(|f| f == "stixBundlePush");

    // A transport failure of pushes, decided before anything is executed.
    if outcome.is_push {
        let st = lock(&inner.state);
        if let Fault::FailPushAfter {
            ok_pushes,
            status_or_code: PushFailure::Http(status),
        } = &st.fault
            && st.pushes_since_fault >= *ok_pushes
        {
            outcome.response = if *status == 429 {
                too_many(Some(1))
            } else {
                proxy_html(*status)
            };
            return outcome;
        }
    }

    // Authentication.
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    let authenticated = token == Some(inner.opts.token.as_str());
    if !authenticated {
        let errors: Vec<GqlError> = roots
            .iter()
            .filter(|f| !(f.name == "about" && inner.ver < v("6.1.0")) && f.name != "__typename")
            .map(|f| {
                GqlError::new("AUTH_REQUIRED", default_message("AUTH_REQUIRED"))
                    .at(&[f.response_key().as_str()])
            })
            .collect();
        if !errors.is_empty() {
            let mut body = inner.errors_only(&errors);
            body["data"] = Value::Null;
            outcome.response = gql_response(200, &body);
            return outcome;
        }
    }

    // Execution, root field by root field (serially).
    let mut data = Map::new();
    let mut errors: Vec<GqlError> = Vec::new();
    let mut null_data = false;
    for field in &roots {
        let key = field.response_key().to_string();
        let result = if field.name == "__typename" {
            Ok(json!(operation.object_type().as_str()))
        } else {
            inner
                .check_capability(&field.name)
                .and_then(|_| inner.resolve_root(&doc, field, &vars))
        };
        match result {
            Ok(value) => {
                let projected = if field.name == "workEdit" {
                    value
                } else {
                    project(&value, &field.selection_set, &doc, &vars)
                };
                data.insert(key, projected);
            }
            Err(mut e) => {
                if e.path.is_empty() {
                    e.path = vec![json!(key)];
                }
                errors.push(e);
                if field.definition.ty.is_non_null() {
                    null_data = true;
                }
                data.insert(key, Value::Null);
            }
        }
    }
    let mut body = Map::new();
    if !errors.is_empty() {
        body.insert(
            "errors".into(),
            Value::Array(errors.iter().map(|e| inner.error_json(e)).collect()),
        );
    }
    body.insert(
        "data".into(),
        if null_data {
            Value::Null
        } else {
            Value::Object(data)
        },
    );
    outcome.response = gql_response(200, &Value::Object(body));
    outcome
}

impl Inner {
    pub(super) fn check_capability(&self, field: &str) -> Result<(), GqlError> {
        let pre61 = self.ver < v("6.1.0");
        let required: &[&str] = match field {
            "registerConnector" | "pingConnector" | "stixBundlePush" => &["CONNECTORAPI"],
            "workAdd" if pre61 => &["KNOWLEDGE_KNASKIMPORT", "KNOWLEDGE_KNGETEXPORT_KNASKEXPORT"],
            "workAdd" => &[
                "CONNECTORAPI",
                "MODULES_MODMANAGE",
                "KNOWLEDGE_KNASKIMPORT",
                "KNOWLEDGE_KNGETEXPORT_KNASKEXPORT",
            ],
            "workEdit" if pre61 => &["KNOWLEDGE_KNASKIMPORT", "KNOWLEDGE_KNGETEXPORT_KNASKEXPORT"],
            "workEdit" => &["CONNECTORAPI", "MODULES_MODMANAGE"],
            "connector" | "work" => &["MODULES"],
            "markingDefinitions" => &["KNOWLEDGE", "SETTINGS_SETACCESSES", "SETTINGS_SETMARKINGS"],
            "stixCoreObjects" | "stixCoreRelationships" | "stixSightingRelationships" => {
                &["KNOWLEDGE"]
            }
            "resetStateConnector" => &["MODULES_MODMANAGE"],
            _ => &[],
        };
        if required.is_empty() {
            return Ok(());
        }
        let caps = lock(&self.state).capabilities.clone();
        let ok = caps
            .iter()
            .any(|c| c == "BYPASS" || required.iter().any(|r| c.contains(r)));
        if ok {
            Ok(())
        } else {
            Err(GqlError::new(
                "FORBIDDEN_ACCESS",
                default_message("FORBIDDEN_ACCESS"),
            ))
        }
    }

    pub(super) fn resolve_root(
        &self,
        doc: &Valid<ExecutableDocument>,
        field: &Field,
        vars: &Map<String, Value>,
    ) -> Result<Value, GqlError> {
        let arg = |name: &str| argument(field, name, vars);
        match field.name.as_str() {
            "about" => Ok(json!({"__typename": "AppInfo", "version": self.opts.version})),
            "me" => {
                let caps = lock(&self.state).capabilities.clone();
                let bypass = caps.iter().any(|c| c == "BYPASS");
                let mut me = json!({
                    "__typename": "MeUser",
                    "id": self.opts.user_id,
                    "name": self.opts.user_name,
                    "user_email": self.opts.user_email,
                    "capabilities": caps.iter().enumerate().map(|(i, c)| json!({
                        "__typename": "Capability", "id": format!("capability-{i}"), "name": c, "description": Value::Null
                    })).collect::<Vec<_>>(),
                });
                for (k, value) in access::lock(&self.directory).me_fields(bypass) {
                    me[k] = value;
                }
                Ok(me)
            }
            "markingDefinitions" => Ok(access::lock(&self.directory).lookup(&arg("filters"))),
            "connector" => {
                let id = arg("id");
                let st = lock(&self.state);
                Ok(id
                    .as_str()
                    .and_then(|id| stored_key(&st, id))
                    .and_then(|id| st.connectors.get(&id))
                    .map(|c| self.connector_out(c))
                    .unwrap_or(Value::Null))
            }
            "work" => {
                let id = arg("id");
                if let Some(p) = &self.platform {
                    return Ok(id
                        .as_str()
                        .and_then(|id| p.work(id))
                        .map(|w| work_json(&w))
                        .unwrap_or(Value::Null));
                }
                let st = lock(&self.state);
                Ok(st
                    .works
                    .iter()
                    .find(|w| Some(w.id.as_str()) == id.as_str())
                    .map(work_json)
                    .unwrap_or(Value::Null))
            }
            f @ ("stixCoreObjects" | "stixCoreRelationships" | "stixSightingRelationships") => {
                self.look_up(f, arg("filters"), arg("first"), arg("after"))
            }
            "registerConnector" => self.register(arg("input")),
            "pingConnector" => self.ping(arg("id"), arg("state"), arg("connectorInfo")),
            "resetStateConnector" => {
                let id = arg("id");
                let mut st = lock(&self.state);
                let c = id
                    .as_str()
                    .and_then(|id| stored_key(&st, id))
                    .and_then(|id| st.connectors.get_mut(&id))
                    .ok_or_else(|| GqlError::new("FUNCTIONAL_ERROR", NOT_FOUND_MSG))?;
                self.reset(c);
                Ok(self.connector_out(c))
            }
            "stixBundlePush" => self.push(arg("connectorId"), arg("bundle"), arg("work_id")),
            "workAdd" => self.work_add(
                arg("connectorId"),
                arg("friendlyName"),
                arg("isMultiPartWork"),
            ),
            "workEdit" => self.work_edit(doc, field, vars),
            other => Err(GqlError::new(
                "UNSUPPORTED_ERROR",
                format!("Field {other} is not implemented by the OpenCTI stand-in"),
            )),
        }
    }

    /// `stixCoreObjects` & co.: one page of the knowledge base. On the asynchronous model a
    /// node shows once a worker imported one of its ids.
    pub(super) fn look_up(
        &self,
        field: &str,
        filters: Value,
        first: Value,
        after: Value,
    ) -> Result<Value, GqlError> {
        let family = knowledge::Family::of_field(field).expect("a look-up field");
        let st = lock(&self.state);
        let visible = |n: &knowledge::Node| match &self.platform {
            None => true,
            Some(p) => n
                .stix_ids
                .iter()
                .chain([&n.standard_id])
                .any(|i| p.is_imported(i)),
        };
        st.knowledge
            .connection(family, &filters, &first, &after, &visible)
            .map_err(|e| GqlError::new("UNSUPPORTED_ERROR", e))
    }
}
