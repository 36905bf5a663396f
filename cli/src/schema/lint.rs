//! Conventions every public type follows, checked on the API schema:
//! naming, descriptions, deprecation reasons, and Relay connections for
//! lists that page.

use apollo_compiler::{
    schema::{ExtendedType, FieldDefinition},
    Schema,
};
use serde::Serialize;

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    /// `error` fails the check; `warning` is reported.
    pub level: &'static str,
    pub path: String,
    pub message: String,
}

fn error(rule: &'static str, path: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        rule,
        level: "error",
        path: path.into(),
        message: message.into(),
    }
}

fn is_pascal(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && !s.contains('_')
}

fn is_camel(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && !s.contains('_')
}

fn is_screaming(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
}

/// Every finding on `schema` (an API schema: federation internals removed).
pub fn lint(schema: &Schema) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, ty) in &schema.types {
        if ty.is_built_in() {
            continue;
        }
        if !is_pascal(name) {
            out.push(error(
                "naming",
                name.as_str(),
                format!("Type `{name}` should be PascalCase."),
            ));
        }
        let described = match ty {
            ExtendedType::Scalar(t) => t.description.is_some(),
            ExtendedType::Object(t) => t.description.is_some(),
            ExtendedType::Interface(t) => t.description.is_some(),
            ExtendedType::Union(t) => t.description.is_some(),
            ExtendedType::Enum(t) => t.description.is_some(),
            ExtendedType::InputObject(t) => t.description.is_some(),
        };
        let root = schema.root_operation(apollo_compiler::ast::OperationType::Query) == Some(name)
            || schema.root_operation(apollo_compiler::ast::OperationType::Mutation) == Some(name)
            || schema.root_operation(apollo_compiler::ast::OperationType::Subscription) == Some(name);
        // A Relay connection's shape is its documentation (and async-graphql
        // generates these types without one).
        let relay_connection = matches!(ty, ExtendedType::Object(t)
            if name.ends_with("Connection") && t.fields.contains_key("pageInfo") && t.fields.contains_key("edges"));
        if !described && !root && !relay_connection {
            out.push(error(
                "description",
                name.as_str(),
                format!("Type `{name}` has no description: say what it is for clients reading the schema."),
            ));
        }
        match ty {
            ExtendedType::Object(t) => fields(schema, name, t.fields.values().map(|f| &***f), &mut out),
            ExtendedType::Interface(t) => fields(schema, name, t.fields.values().map(|f| &***f), &mut out),
            ExtendedType::Enum(t) => {
                for (v, def) in &t.values {
                    let path = format!("{name}.{v}");
                    if !is_screaming(v) {
                        out.push(error(
                            "naming",
                            &path,
                            format!("Enum value `{path}` should be SCREAMING_SNAKE_CASE."),
                        ));
                    }
                    deprecated_reason(&path, &def.directives, &mut out);
                }
            }
            ExtendedType::InputObject(t) => {
                for (f, def) in &t.fields {
                    let path = format!("{name}.{f}");
                    if !is_camel(f) {
                        out.push(error(
                            "naming",
                            &path,
                            format!("Input field `{path}` should be camelCase."),
                        ));
                    }
                    deprecated_reason(&path, &def.directives, &mut out);
                }
            }
            _ => {}
        }
    }
    out
}

fn fields<'a>(schema: &Schema, ty: &str, defs: impl Iterator<Item = &'a FieldDefinition>, out: &mut Vec<Finding>) {
    for f in defs {
        if f.name.starts_with("__") {
            continue;
        }
        let path = format!("{ty}.{}", f.name);
        if !is_camel(&f.name) {
            out.push(error("naming", &path, format!("Field `{path}` should be camelCase.")));
        }
        if f.description.is_none() {
            out.push(error(
                "description",
                &path,
                format!("Field `{path}` has no description."),
            ));
        }
        deprecated_reason(&path, &f.directives, out);
        for a in &f.arguments {
            let apath = format!("{path}({}:)", a.name);
            if !is_camel(&a.name) {
                out.push(error(
                    "naming",
                    &apath,
                    format!("Argument `{apath}` should be camelCase."),
                ));
            }
            deprecated_reason(&apath, &a.directives, out);
        }
        connection(schema, &path, f, out);
    }
}

fn deprecated_reason(path: &str, directives: &apollo_compiler::ast::DirectiveList, out: &mut Vec<Finding>) {
    let Some(d) = directives.get("deprecated") else { return };
    let reason = d
        .specified_argument_by_name("reason")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if reason.trim().is_empty() || reason == "No longer supported" {
        out.push(error(
            "deprecation-reason",
            path,
            format!("`{path}` is deprecated without a reason: say what to use instead."),
        ));
    }
}

/// A field that pages (takes `first`/`after` or returns a `…Connection`)
/// follows the Relay connection spec: `edges { cursor node }` and
/// `pageInfo: PageInfo!`, paged forward by `first` and `after`.
fn connection(schema: &Schema, path: &str, f: &FieldDefinition, out: &mut Vec<Finding>) {
    let has = |n: &str| f.arguments.iter().any(|a| a.name == n);
    let returns = f.ty.inner_named_type();
    let pages = has("first") || has("after");
    let is_connection = returns.ends_with("Connection");
    if !pages && !is_connection {
        return;
    }
    if !(has("first") && has("after")) {
        out.push(error(
            "relay-connection",
            path,
            format!("`{path}` pages: give it both `first` and `after`."),
        ));
    }
    if f.ty.is_list() {
        out.push(error(
            "relay-connection",
            path,
            format!(
                "`{path}` pages but returns a list: return a `{}Connection` instead.",
                returns
            ),
        ));
        return;
    }
    let Some(ExtendedType::Object(conn)) = schema.types.get(returns) else {
        out.push(error(
            "relay-connection",
            path,
            format!("`{path}` pages but `{returns}` is not a connection object type."),
        ));
        return;
    };
    let mut problems = Vec::new();
    match conn.fields.get("pageInfo") {
        Some(p) if p.ty.to_string() == "PageInfo!" => {}
        _ => problems.push("`pageInfo: PageInfo!`".to_string()),
    }
    match conn.fields.get("edges") {
        Some(e) if e.ty.is_list() => {
            let edge = e.ty.inner_named_type();
            match schema.types.get(edge) {
                Some(ExtendedType::Object(edge_ty)) => {
                    if !edge_ty.fields.contains_key("node") {
                        problems.push(format!("`{edge}.node`"));
                    }
                    match edge_ty.fields.get("cursor") {
                        Some(c) if c.ty.is_non_null() => {}
                        _ => problems.push(format!("`{edge}.cursor` (non-null)")),
                    }
                }
                _ => problems.push(format!("an object type `{edge}` for its edges")),
            }
        }
        _ => problems.push("`edges: [Edge!]!`".to_string()),
    }
    if !problems.is_empty() {
        out.push(error(
            "relay-connection",
            path,
            format!("`{returns}` (returned by `{path}`) lacks {}.", problems.join(", ")),
        ));
    }
}

/// Partial failure is a feature: a field that crosses a subgraph boundary
/// is nullable, so that the other subgraph being down, slow, or the entity
/// gone (an erased user, a removed member, a deleted document) costs that
/// field only, never its parent or the whole answer. Checked on the
/// subgraphs' own SDL (`(name, sdl)`): an entity's owner is the subgraph
/// that defines most of its fields; a field that returns an entity of
/// another subgraph, or that a subgraph adds to another's entity, must be
/// nullable (lists too: the list itself).
pub fn cross_subgraph_nullability(subgraphs: &[(String, String)]) -> Vec<Finding> {
    use apollo_compiler::ast::{Definition, Document};
    use std::collections::BTreeMap;

    let docs: Vec<(&str, Document)> = subgraphs
        .iter()
        .filter_map(|(name, sdl)| {
            Document::parse(sdl.as_str(), name.as_str())
                .ok()
                .map(|d| (name.as_str(), d))
        })
        .collect();
    let is_entity = |def: &apollo_compiler::ast::ObjectTypeDefinition| def.directives.iter().any(|d| d.name == "key");
    let own_fields = |def: &apollo_compiler::ast::ObjectTypeDefinition| {
        def.fields
            .iter()
            .filter(|f| f.name != "id" && !f.directives.iter().any(|d| d.name == "external"))
            .count()
    };
    // Which subgraph defines most of each entity's fields: its owner.
    let mut counts: BTreeMap<String, Vec<(usize, &str)>> = BTreeMap::new();
    for (sg, doc) in &docs {
        for def in &doc.definitions {
            if let Definition::ObjectTypeDefinition(t) = def {
                if is_entity(t) {
                    counts.entry(t.name.to_string()).or_default().push((own_fields(t), sg));
                }
            }
        }
    }
    let owner: BTreeMap<String, &str> = counts
        .into_iter()
        .filter_map(|(t, mut c)| {
            c.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
            c.first().map(|(_, sg)| (t, *sg))
        })
        .collect();
    let mut out = vec![];
    for (sg, doc) in &docs {
        for def in &doc.definitions {
            let Definition::ObjectTypeDefinition(t) = def else {
                continue;
            };
            let contributed = owner.get(t.name.as_str()).is_some_and(|o| o != sg);
            for f in &t.fields {
                if f.name == "id" || f.directives.iter().any(|d| d.name == "external") {
                    continue;
                }
                let non_null = f.ty.is_non_null();
                if !non_null {
                    continue;
                }
                let path = format!("{}.{}", t.name, f.name);
                let returned = f.ty.inner_named_type().to_string();
                if contributed {
                    let from = owner.get(t.name.as_str()).copied().unwrap_or_default();
                    out.push(error(
                        "cross-subgraph-nullability",
                        path.clone(),
                        format!(
                            "`{path}` is added by {sg} to `{}`, an entity of {from}: make it nullable (`{}`), so that {sg} down costs this field only, not the {}.",
                            t.name,
                            nullable(&f.ty),
                            t.name
                        ),
                    ));
                } else if let Some(other) = owner.get(returned.as_str()).filter(|o| *o != sg) {
                    out.push(error(
                        "cross-subgraph-nullability",
                        path.clone(),
                        format!(
                            "`{path}` returns `{returned}`, an entity of {other}, from {sg}: make it nullable (`{}`), so that {other} down or the {returned} gone costs this field only.",
                            nullable(&f.ty)
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// `T!` as `T`, `[T!]!` as `[T!]`.
fn nullable(ty: &apollo_compiler::ast::Type) -> String {
    let s = ty.to_string();
    s.strip_suffix('!').unwrap_or(&s).to_string()
}
