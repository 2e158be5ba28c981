//! graphql-js execution semantics: field collection with `@skip` / `@include`, argument
//! values, projection onto the selection, and variable coercion (`coerceVariableValues`).

use super::*;

pub(super) fn directive_allows(directives: &ast::DirectiveList, vars: &Map<String, Value>) -> bool {
    let cond = |name: &str| {
        directives
            .get(name)
            .and_then(|d| d.specified_argument_by_name("if"))
            .map(|v| value_to_json(v, vars).as_bool().unwrap_or(false))
    };
    if cond("skip") == Some(true) {
        return false;
    }
    cond("include") != Some(false)
}

/// The fields of a selection set, through fragments, honouring `@skip`/`@include`.
pub(super) fn collect_fields<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    vars: &Map<String, Value>,
) -> Vec<&'d apollo_compiler::Node<Field>> {
    let mut out = Vec::new();
    collect_into(doc, set, Some(vars), &mut out, 0);
    out
}

/// Like [`collect_fields`], ignoring directives (for validation rules).
pub(super) fn collect_fields_static<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
) -> Vec<&'d apollo_compiler::Node<Field>> {
    let mut out = Vec::new();
    collect_into(doc, set, None, &mut out, 0);
    out
}

pub(super) fn collect_into<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    vars: Option<&Map<String, Value>>,
    out: &mut Vec<&'d apollo_compiler::Node<Field>>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    let allows = |d: &ast::DirectiveList| vars.is_none_or(|v| directive_allows(d, v));
    for sel in &set.selections {
        match sel {
            Selection::Field(f) => {
                if allows(&f.directives) {
                    out.push(f);
                }
            }
            Selection::InlineFragment(i) => {
                if allows(&i.directives) {
                    collect_into(doc, &i.selection_set, vars, out, depth + 1);
                }
            }
            Selection::FragmentSpread(s) => {
                if allows(&s.directives)
                    && let Some(frag) = doc.fragments.get(&s.fragment_name)
                {
                    collect_into(doc, &frag.selection_set, vars, out, depth + 1);
                }
            }
        }
    }
}

pub(super) fn value_to_json(v: &ast::Value, vars: &Map<String, Value>) -> Value {
    match v {
        ast::Value::Null => Value::Null,
        ast::Value::Enum(n) => json!(n.as_str()),
        ast::Value::Variable(n) => vars.get(n.as_str()).cloned().unwrap_or(Value::Null),
        ast::Value::String(s) => json!(s),
        ast::Value::Float(f) => f.try_to_f64().map(|x| json!(x)).unwrap_or(Value::Null),
        ast::Value::Int(i) => i
            .as_str()
            .parse::<i64>()
            .map(|x| json!(x))
            .unwrap_or(Value::Null),
        ast::Value::Boolean(b) => json!(b),
        ast::Value::List(items) => {
            Value::Array(items.iter().map(|i| value_to_json(i, vars)).collect())
        }
        ast::Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, x)| (k.to_string(), value_to_json(x, vars)))
                .collect(),
        ),
    }
}

/// An argument's value: the literal or variable given, else the definition's default, else null.
pub(super) fn argument(field: &Field, name: &str, vars: &Map<String, Value>) -> Value {
    if let Some(a) = field.arguments.iter().find(|a| a.name == name) {
        if let ast::Value::Variable(var) = a.value.as_ref()
            && !vars.contains_key(var.as_str())
        {
            // An omitted variable leaves the argument unset: fall back to the default.
        } else {
            return value_to_json(&a.value, vars);
        }
    }
    field
        .definition
        .arguments
        .iter()
        .find(|d| d.name == name)
        .and_then(|d| d.default_value.as_ref())
        .map(|d| value_to_json(d, vars))
        .unwrap_or(Value::Null)
}

/// Keeps only the selected fields (by response key) of a resolved value.
pub(super) fn project(
    value: &Value,
    set: &SelectionSet,
    doc: &ExecutableDocument,
    vars: &Map<String, Value>,
) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::Array(items) => {
            Value::Array(items.iter().map(|i| project(i, set, doc, vars)).collect())
        }
        Value::Object(obj) if !set.selections.is_empty() => {
            let mut out = Map::new();
            for f in collect_fields(doc, set, vars) {
                let sub = obj.get(f.name.as_str()).cloned().unwrap_or(Value::Null);
                let v = if f.selection_set.selections.is_empty() {
                    sub
                } else {
                    project(&sub, &f.selection_set, doc, vars)
                };
                out.insert(f.response_key().to_string(), v);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Variable coercion (graphql-js `coerceVariableValues` messages)

pub(super) fn coerce_variables(
    schema: &Schema,
    op: &Operation,
    raw: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for def in &op.variables {
        let name = def.name.as_str();
        match raw.get(name) {
            None => {
                if let Some(d) = &def.default_value {
                    out.insert(name.into(), value_to_json(d, &Map::new()));
                } else if def.ty.is_non_null() {
                    return Err(format!(
                        "Variable \"${name}\" of required type \"{}\" was not provided.",
                        def.ty
                    ));
                }
            }
            Some(Value::Null) if def.ty.is_non_null() => {
                return Err(format!(
                    "Variable \"${name}\" of non-null type \"{}\" must not be null.",
                    def.ty
                ));
            }
            Some(value) => match coerce_value(schema, &def.ty, value, "") {
                Ok(c) => {
                    out.insert(name.into(), c);
                }
                Err((path, msg)) => {
                    let at = if path.is_empty() {
                        String::new()
                    } else {
                        format!(" at \"{name}{path}\"")
                    };
                    return Err(format!(
                        "Variable \"${name}\" got invalid value {}{at}; {msg}",
                        short_json(value)
                    ));
                }
            },
        }
    }
    Ok(out)
}

pub(super) fn short_json(v: &Value) -> String {
    let s = elide(v).to_string();
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &s[..cut])
    } else {
        s
    }
}

pub(super) fn coerce_value(
    schema: &Schema,
    ty: &ast::Type,
    v: &Value,
    path: &str,
) -> Result<Value, (String, String)> {
    if v.is_null() {
        return if ty.is_non_null() {
            Err((
                path.into(),
                format!("Expected non-nullable type \"{ty}\" not to be null."),
            ))
        } else {
            Ok(Value::Null)
        };
    }
    match ty {
        ast::Type::List(inner) | ast::Type::NonNullList(inner) => match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, x)| coerce_value(schema, inner, x, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            single => Ok(Value::Array(vec![coerce_value(
                schema, inner, single, path,
            )?])),
        },
        ast::Type::Named(n) | ast::Type::NonNullNamed(n) => {
            coerce_named(schema, n.as_str(), v, path)
        }
    }
}

pub(super) fn coerce_named(
    schema: &Schema,
    name: &str,
    v: &Value,
    path: &str,
) -> Result<Value, (String, String)> {
    let err = |m: String| Err((path.to_string(), m));
    match name {
        "String" => match v {
            Value::String(_) => Ok(v.clone()),
            _ => err(format!("String cannot represent a non string value: {v}")),
        },
        "ID" => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(json!(n.to_string())),
            _ => err(format!("ID cannot represent value: {v}")),
        },
        "Boolean" => match v {
            Value::Bool(_) => Ok(v.clone()),
            _ => err(format!("Boolean cannot represent a non boolean value: {v}")),
        },
        "Int" => match v.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => Ok(v.clone()),
            Some(_) => err(format!(
                "Int cannot represent non 32-bit signed integer value: {v}"
            )),
            None => match v.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() <= f64::from(i32::MAX) => {
                    Ok(json!(f as i64))
                }
                _ => err(format!("Int cannot represent non-integer value: {v}")),
            },
        },
        "Float" => match v {
            Value::Number(_) => Ok(v.clone()),
            _ => err(format!("Float cannot represent non numeric value: {v}")),
        },
        "DateTime" => match v.as_str() {
            Some(s) if DateTime::parse_from_rfc3339(s).is_ok() => Ok(v.clone()),
            _ => err(format!(
                "DateTime cannot represent an invalid date-time-string {v}."
            )),
        },
        _ => match schema.types.get(name) {
            Some(ExtendedType::Enum(e)) => match v.as_str() {
                Some(s) if e.values.contains_key(s) => Ok(v.clone()),
                Some(s) => err(format!("Value \"{s}\" does not exist in \"{name}\" enum.")),
                None => err(format!(
                    "Enum \"{name}\" cannot represent non-string value: {v}."
                )),
            },
            Some(ExtendedType::InputObject(def)) => {
                let Some(obj) = v.as_object() else {
                    return err(format!("Expected type \"{name}\" to be an object."));
                };
                let mut out = Map::new();
                for (fname, fdef) in &def.fields {
                    let sub = format!("{path}.{fname}");
                    match obj.get(fname.as_str()) {
                        None => {
                            if let Some(d) = &fdef.default_value {
                                out.insert(fname.to_string(), value_to_json(d, &Map::new()));
                            } else if fdef.ty.is_non_null() {
                                return err(format!(
                                    "Field \"{fname}\" of required type \"{}\" was not provided.",
                                    fdef.ty
                                ));
                            }
                        }
                        Some(x) => {
                            out.insert(fname.to_string(), coerce_value(schema, &fdef.ty, x, &sub)?);
                        }
                    }
                }
                for key in obj.keys() {
                    if !def.fields.contains_key(key.as_str()) {
                        return err(format!(
                            "Field \"{key}\" is not defined by type \"{name}\"."
                        ));
                    }
                }
                Ok(Value::Object(out))
            }
            // Custom scalars accept anything.
            _ => Ok(v.clone()),
        },
    }
}
