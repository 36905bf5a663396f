//! The change list between two API schemas, each change classified the way
//! graphql-inspector (`@graphql-inspector/core` 8.x) classifies it, with a
//! schema coordinate as its path (`Type.field`, `Type.field(arg:)`,
//! `Enum.VALUE`, `@directive(arg:)`). `schema-review/fixtures/` holds one case
//! per rule; the frontend-codegen tests run graphql-inspector on the same
//! fixtures and expect the same levels.

use apollo_compiler::{
    ast::DirectiveList,
    ast::{DirectiveDefinition, InputValueDefinition, Type},
    schema::{ExtendedType, FieldDefinition},
    Node, Schema,
};
use serde::Serialize;

#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    Breaking,
    Dangerous,
    NonBreaking,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Change {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub level: Level,
    pub path: String,
    pub message: String,
}

struct Out(Vec<Change>);

impl Out {
    fn push(&mut self, kind: &'static str, level: Level, path: impl Into<String>, message: impl Into<String>) {
        let message: String = message.into();
        let mut chars = message.chars();
        let message = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => message,
        };
        self.0.push(Change {
            kind,
            level,
            path: path.into(),
            message,
        });
    }
}

use Level::{Breaking, Dangerous, NonBreaking};

/// Every change from `old` to `new`.
pub fn diff(old: &Schema, new: &Schema) -> Vec<Change> {
    let mut out = Out(Vec::new());
    roots(old, new, &mut out);
    for (name, o) in &old.types {
        if o.is_built_in() {
            continue;
        }
        match new.types.get(name) {
            None => out.push(
                "TYPE_REMOVED",
                Breaking,
                name.as_str(),
                format!("Type `{name}` was removed."),
            ),
            Some(n) => diff_type(name, o, n, &mut out),
        }
    }
    for (name, n) in &new.types {
        if n.is_built_in() || old.types.contains_key(name) {
            continue;
        }
        out.push(
            "TYPE_ADDED",
            NonBreaking,
            name.as_str(),
            format!("Type `{name}` was added."),
        );
        added_type_members(name, n, &mut out);
    }
    for (name, o) in &old.directive_definitions {
        if is_built_in_directive(name) {
            continue;
        }
        match new.directive_definitions.get(name) {
            None => out.push(
                "DIRECTIVE_REMOVED",
                Breaking,
                format!("@{name}"),
                format!("Directive `@{name}` was removed."),
            ),
            Some(n) => diff_directive(o, n, &mut out),
        }
    }
    for (name, n) in &new.directive_definitions {
        if is_built_in_directive(name) || old.directive_definitions.contains_key(name) {
            continue;
        }
        out.push(
            "DIRECTIVE_ADDED",
            NonBreaking,
            format!("@{name}"),
            format!("Directive `@{name}` was added."),
        );
        for loc in &n.locations {
            out.push(
                "DIRECTIVE_LOCATION_ADDED",
                NonBreaking,
                format!("@{name}"),
                format!("Location `{loc}` was added to directive `@{name}`."),
            );
        }
    }
    out.0
}

fn is_built_in_directive(name: &str) -> bool {
    matches!(name, "skip" | "include" | "deprecated" | "specifiedBy" | "oneOf")
}

fn roots(old: &Schema, new: &Schema, out: &mut Out) {
    let o = &old.schema_definition;
    let n = &new.schema_definition;
    let pairs = [
        ("query", "SCHEMA_QUERY_TYPE_CHANGED", &o.query, &n.query),
        ("mutation", "SCHEMA_MUTATION_TYPE_CHANGED", &o.mutation, &n.mutation),
        (
            "subscription",
            "SCHEMA_SUBSCRIPTION_TYPE_CHANGED",
            &o.subscription,
            &n.subscription,
        ),
    ];
    for (op, kind, o, n) in pairs {
        let (o, n) = (o.as_ref().map(|c| c.name.as_str()), n.as_ref().map(|c| c.name.as_str()));
        match (o, n) {
            (Some(o), Some(n)) if o != n => out.push(
                kind,
                Breaking,
                "schema",
                format!("The {op} root type changed from `{o}` to `{n}`."),
            ),
            (Some(o), None) => out.push(
                kind,
                Breaking,
                "schema",
                format!("The {op} root type `{o}` was removed."),
            ),
            (None, Some(n)) => out.push(kind, NonBreaking, "schema", format!("The {op} root type is now `{n}`.")),
            _ => {}
        }
    }
}

fn kind_name(t: &ExtendedType) -> &'static str {
    match t {
        ExtendedType::Scalar(_) => "scalar",
        ExtendedType::Object(_) => "object type",
        ExtendedType::Interface(_) => "interface",
        ExtendedType::Union(_) => "union",
        ExtendedType::Enum(_) => "enum",
        ExtendedType::InputObject(_) => "input object type",
    }
}

fn description(t: &ExtendedType) -> Option<&str> {
    match t {
        ExtendedType::Scalar(t) => t.description.as_deref(),
        ExtendedType::Object(t) => t.description.as_deref(),
        ExtendedType::Interface(t) => t.description.as_deref(),
        ExtendedType::Union(t) => t.description.as_deref(),
        ExtendedType::Enum(t) => t.description.as_deref(),
        ExtendedType::InputObject(t) => t.description.as_deref(),
    }
}

/// Added/removed/changed descriptions: always safe; one family of change
/// types per element, named after graphql-inspector's.
fn describe(kinds: [&'static str; 3], path: &str, what: &str, old: Option<&str>, new: Option<&str>, out: &mut Out) {
    match (old, new) {
        (None, Some(n)) => out.push(
            kinds[0],
            NonBreaking,
            path,
            format!("{what} now has the description {n:?}."),
        ),
        (Some(_), None) => out.push(
            kinds[1],
            NonBreaking,
            path,
            format!("The description of {what} was removed."),
        ),
        (Some(o), Some(n)) if o != n => out.push(
            kinds[2],
            NonBreaking,
            path,
            format!("The description of {what} changed from {o:?} to {n:?}."),
        ),
        _ => {}
    }
}

fn diff_type(name: &str, o: &ExtendedType, n: &ExtendedType, out: &mut Out) {
    let what = format!("{} `{name}`", kind_name(n));
    if kind_name(o) != kind_name(n) {
        out.push(
            "TYPE_KIND_CHANGED",
            Breaking,
            name,
            format!("`{name}` changed from {} to {}.", kind_name(o), kind_name(n)),
        );
    }
    describe(
        [
            "TYPE_DESCRIPTION_ADDED",
            "TYPE_DESCRIPTION_REMOVED",
            "TYPE_DESCRIPTION_CHANGED",
        ],
        name,
        &what,
        description(o),
        description(n),
        out,
    );
    match (o, n) {
        (ExtendedType::Object(o), ExtendedType::Object(n)) => {
            fields(name, &o.fields, &n.fields, out);
            interfaces(name, &o.implements_interfaces, &n.implements_interfaces, out);
        }
        (ExtendedType::Interface(o), ExtendedType::Interface(n)) => {
            fields(name, &o.fields, &n.fields, out);
            interfaces(name, &o.implements_interfaces, &n.implements_interfaces, out);
        }
        (ExtendedType::Union(o), ExtendedType::Union(n)) => {
            for m in o.members.iter().filter(|m| !n.members.contains(*m)) {
                out.push(
                    "UNION_MEMBER_REMOVED",
                    Breaking,
                    name,
                    format!("`{}` is no longer a member of union `{name}`.", m.name),
                );
            }
            for m in n.members.iter().filter(|m| !o.members.contains(*m)) {
                out.push(
                    "UNION_MEMBER_ADDED",
                    Dangerous,
                    name,
                    format!(
                        "`{}` was added to union `{name}`: clients that switch on `__typename` may not expect it.",
                        m.name
                    ),
                );
            }
        }
        (ExtendedType::Enum(o), ExtendedType::Enum(n)) => {
            for (v, ov) in &o.values {
                let path = format!("{name}.{v}");
                let Some(nv) = n.values.get(v) else {
                    out.push(
                        "ENUM_VALUE_REMOVED",
                        Breaking,
                        path,
                        format!("Value `{v}` was removed from enum `{name}`."),
                    );
                    continue;
                };
                describe(
                    [
                        "ENUM_VALUE_DESCRIPTION_CHANGED",
                        "ENUM_VALUE_DESCRIPTION_CHANGED",
                        "ENUM_VALUE_DESCRIPTION_CHANGED",
                    ],
                    &path,
                    &format!("enum value `{path}`"),
                    ov.description.as_deref(),
                    nv.description.as_deref(),
                    out,
                );
                deprecation(
                    [
                        "ENUM_VALUE_DEPRECATION_REASON_ADDED",
                        "ENUM_VALUE_DEPRECATION_REASON_REMOVED",
                        "ENUM_VALUE_DEPRECATION_REASON_CHANGED",
                    ],
                    &path,
                    &format!("enum value `{path}`"),
                    &ov.directives,
                    &nv.directives,
                    out,
                );
            }
            for v in n.values.keys().filter(|v| !o.values.contains_key(*v)) {
                out.push(
                    "ENUM_VALUE_ADDED",
                    Dangerous,
                    format!("{name}.{v}"),
                    format!("Value `{v}` was added to enum `{name}`: clients that switch on it may not handle it."),
                );
            }
        }
        (ExtendedType::InputObject(o), ExtendedType::InputObject(n)) => {
            for (f, of) in &o.fields {
                let path = format!("{name}.{f}");
                match n.fields.get(f) {
                    None => out.push(
                        "INPUT_FIELD_REMOVED",
                        Breaking,
                        path,
                        format!("Input field `{f}` was removed from `{name}`."),
                    ),
                    Some(nf) => input_value(InputKind::InputField, &path, of, nf, out),
                }
            }
            for (f, nf) in n.fields.iter().filter(|(f, _)| !o.fields.contains_key(*f)) {
                input_added(InputKind::InputField, &format!("{name}.{f}"), nf, out);
            }
            match (o.directives.get("oneOf").is_some(), n.directives.get("oneOf").is_some()) {
                (false, true) => out.push(
                    "DIRECTIVE_USAGE_INPUT_OBJECT_ADDED",
                    Breaking,
                    format!("{name}.@oneOf"),
                    format!("`{name}` became @oneOf: inputs that set several of its fields are now refused."),
                ),
                (true, false) => out.push(
                    "DIRECTIVE_USAGE_INPUT_OBJECT_REMOVED",
                    NonBreaking,
                    format!("{name}.@oneOf"),
                    format!("`{name}` is no longer @oneOf."),
                ),
                _ => {}
            }
        }
        _ => {}
    }
}

/// graphql-inspector 8 lists the members of a new type as added too.
fn added_type_members(name: &str, t: &ExtendedType, out: &mut Out) {
    let fields = match t {
        ExtendedType::Object(t) => &t.fields,
        ExtendedType::Interface(t) => &t.fields,
        _ => return,
    };
    for f in fields.keys() {
        out.push(
            "FIELD_ADDED",
            NonBreaking,
            format!("{name}.{f}"),
            format!("Field `{f}` was added to `{name}`."),
        );
    }
}

fn interfaces(
    name: &str,
    o: &apollo_compiler::collections::IndexSet<apollo_compiler::schema::ComponentName>,
    n: &apollo_compiler::collections::IndexSet<apollo_compiler::schema::ComponentName>,
    out: &mut Out,
) {
    for i in o.iter().filter(|i| !n.contains(*i)) {
        out.push(
            "OBJECT_TYPE_INTERFACE_REMOVED",
            Breaking,
            name,
            format!("`{name}` no longer implements `{}`.", i.name),
        );
    }
    for i in n.iter().filter(|i| !o.contains(*i)) {
        out.push(
            "OBJECT_TYPE_INTERFACE_ADDED",
            Dangerous,
            name,
            format!(
                "`{name}` now implements `{}`: fragments on `{}` now match it.",
                i.name, i.name
            ),
        );
    }
}

type Fields =
    apollo_compiler::collections::IndexMap<apollo_compiler::Name, apollo_compiler::schema::Component<FieldDefinition>>;

fn fields(name: &str, o: &Fields, n: &Fields, out: &mut Out) {
    for (f, of) in o {
        let path = format!("{name}.{f}");
        let Some(nf) = n.get(f) else {
            let hint = if deprecation_reason(&of.directives).is_some() {
                "it was deprecated; clients that still select it fail"
            } else {
                "deprecate it first, and remove it once no client selects it"
            };
            out.push(
                "FIELD_REMOVED",
                Breaking,
                path,
                format!("Field `{f}` was removed from `{name}` ({hint})."),
            );
            continue;
        };
        describe(
            [
                "FIELD_DESCRIPTION_ADDED",
                "FIELD_DESCRIPTION_REMOVED",
                "FIELD_DESCRIPTION_CHANGED",
            ],
            &path,
            &format!("field `{path}`"),
            of.description.as_deref(),
            nf.description.as_deref(),
            out,
        );
        let (od, nd) = (deprecation_reason(&of.directives), deprecation_reason(&nf.directives));
        match (&od, &nd) {
            (None, Some(_)) => out.push(
                "FIELD_DEPRECATION_ADDED",
                NonBreaking,
                &path,
                format!("Field `{path}` is deprecated."),
            ),
            (Some(_), None) => out.push(
                "FIELD_DEPRECATION_REMOVED",
                NonBreaking,
                &path,
                format!("Field `{path}` is no longer deprecated."),
            ),
            _ => {}
        }
        // graphql-inspector reports a new or lifted deprecation once, and a
        // reason change only while the field stays deprecated.
        if od.is_some() && nd.is_some() {
            deprecation(
                [
                    "FIELD_DEPRECATION_REASON_ADDED",
                    "FIELD_DEPRECATION_REASON_REMOVED",
                    "FIELD_DEPRECATION_REASON_CHANGED",
                ],
                &path,
                &format!("field `{path}`"),
                &of.directives,
                &nf.directives,
                out,
            );
        }
        if of.ty != nf.ty {
            let level = if safe_for_output(&of.ty, &nf.ty) {
                NonBreaking
            } else {
                Breaking
            };
            out.push(
                "FIELD_TYPE_CHANGED",
                level,
                &path,
                format!("Field `{path}` changed type from `{}` to `{}`.", of.ty, nf.ty),
            );
        }
        for oa in &of.arguments {
            let apath = format!("{path}({}:)", oa.name);
            match nf.arguments.iter().find(|a| a.name == oa.name) {
                None => out.push(
                    "FIELD_ARGUMENT_REMOVED",
                    Breaking,
                    apath,
                    format!("Argument `{}` was removed from field `{path}`.", oa.name),
                ),
                Some(na) => input_value(InputKind::Argument, &apath, oa, na, out),
            }
        }
        for na in nf
            .arguments
            .iter()
            .filter(|a| !of.arguments.iter().any(|o| o.name == a.name))
        {
            input_added(InputKind::Argument, &format!("{path}({}:)", na.name), na, out);
        }
    }
    for f in n.keys().filter(|f| !o.contains_key(*f)) {
        out.push(
            "FIELD_ADDED",
            NonBreaking,
            format!("{name}.{f}"),
            format!("Field `{f}` was added to `{name}`."),
        );
    }
}

/// `Some(reason)` when deprecated (the spec's default reason when none is given).
fn deprecation_reason(d: &DirectiveList) -> Option<String> {
    d.get("deprecated").map(|d| {
        d.specified_argument_by_name("reason")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    })
}

fn explicit_reason(d: &DirectiveList) -> Option<String> {
    d.get("deprecated")
        .and_then(|d| d.specified_argument_by_name("reason"))
        .and_then(|v| v.as_str().map(str::to_string))
}

fn deprecation(kinds: [&'static str; 3], path: &str, what: &str, o: &DirectiveList, n: &DirectiveList, out: &mut Out) {
    match (explicit_reason(o), explicit_reason(n)) {
        (None, Some(r)) => out.push(kinds[0], NonBreaking, path, format!("{what} is deprecated: {r:?}.")),
        (Some(_), None) => out.push(
            kinds[1],
            NonBreaking,
            path,
            format!("{what} has no deprecation reason any more."),
        ),
        (Some(a), Some(b)) if a != b => out.push(
            kinds[2],
            NonBreaking,
            path,
            format!("The deprecation reason of {what} changed from {a:?} to {b:?}."),
        ),
        _ => {}
    }
}

#[derive(Clone, Copy)]
enum InputKind {
    Argument,
    InputField,
    DirectiveArgument,
}

impl InputKind {
    fn names(self) -> (&'static str, &'static str, &'static str, &'static str, &'static str) {
        // (added, type changed, default changed, description changed, noun)
        match self {
            InputKind::Argument => (
                "FIELD_ARGUMENT_ADDED",
                "FIELD_ARGUMENT_TYPE_CHANGED",
                "FIELD_ARGUMENT_DEFAULT_CHANGED",
                "FIELD_ARGUMENT_DESCRIPTION_CHANGED",
                "argument",
            ),
            InputKind::InputField => (
                "INPUT_FIELD_ADDED",
                "INPUT_FIELD_TYPE_CHANGED",
                "INPUT_FIELD_DEFAULT_VALUE_CHANGED",
                "INPUT_FIELD_DESCRIPTION_CHANGED",
                "input field",
            ),
            InputKind::DirectiveArgument => (
                "DIRECTIVE_ARGUMENT_ADDED",
                "DIRECTIVE_ARGUMENT_TYPE_CHANGED",
                "DIRECTIVE_ARGUMENT_DEFAULT_VALUE_CHANGED",
                "DIRECTIVE_ARGUMENT_DESCRIPTION_CHANGED",
                "directive argument",
            ),
        }
    }
}

fn input_added(kind: InputKind, path: &str, v: &Node<InputValueDefinition>, out: &mut Out) {
    let (added, _, _, _, noun) = kind.names();
    let required = v.ty.is_non_null() && v.default_value.is_none();
    let level = match (kind, required, v.ty.is_non_null()) {
        (_, true, _) => Breaking,
        // graphql-inspector: a non-null directive argument breaks even with a default.
        (InputKind::DirectiveArgument, false, true) => Breaking,
        // A new optional argument changes what a cached or persisted
        // operation may mean only through its default.
        (InputKind::Argument, false, _) => Dangerous,
        (_, false, true) => Dangerous,
        (_, false, false) => NonBreaking,
    };
    let msg = if required {
        format!(
            "Required {noun} `{path}: {}` was added: operations that do not pass it fail.",
            v.ty
        )
    } else {
        format!("Optional {noun} `{path}: {}` was added.", v.ty)
    };
    out.push(added, level, path, msg);
}

fn input_value(
    kind: InputKind,
    path: &str,
    o: &Node<InputValueDefinition>,
    n: &Node<InputValueDefinition>,
    out: &mut Out,
) {
    let (_, type_changed, default_changed, description_changed, noun) = kind.names();
    let what = format!("{noun} `{path}`");
    let description_kinds = match kind {
        InputKind::InputField => [
            "INPUT_FIELD_DESCRIPTION_ADDED",
            "INPUT_FIELD_DESCRIPTION_REMOVED",
            "INPUT_FIELD_DESCRIPTION_CHANGED",
        ],
        _ => [description_changed; 3],
    };
    describe(
        description_kinds,
        path,
        &what,
        o.description.as_deref(),
        n.description.as_deref(),
        out,
    );
    if o.ty != n.ty {
        let level = if safe_for_input(&o.ty, &n.ty) {
            NonBreaking
        } else {
            Breaking
        };
        out.push(
            type_changed,
            level,
            path,
            format!("The type of {what} changed from `{}` to `{}`.", o.ty, n.ty),
        );
    }
    let (od, nd) = (
        o.default_value.as_ref().map(|v| v.to_string()),
        n.default_value.as_ref().map(|v| v.to_string()),
    );
    if od != nd {
        out.push(
            default_changed,
            Dangerous,
            path,
            format!(
                "The default of {what} changed from {} to {}: operations that omit it now behave differently.",
                od.as_deref().unwrap_or("none"),
                nd.as_deref().unwrap_or("none")
            ),
        );
    }
    let dep_kinds = match kind {
        InputKind::InputField => [
            "DIRECTIVE_USAGE_INPUT_FIELD_DEFINITION_ADDED",
            "DIRECTIVE_USAGE_INPUT_FIELD_DEFINITION_REMOVED",
        ],
        _ => [
            "DIRECTIVE_USAGE_ARGUMENT_DEFINITION_ADDED",
            "DIRECTIVE_USAGE_ARGUMENT_DEFINITION_REMOVED",
        ],
    };
    match (
        o.directives.get("deprecated").is_some(),
        n.directives.get("deprecated").is_some(),
    ) {
        (false, true) => out.push(dep_kinds[0], NonBreaking, path, format!("{what} is deprecated.")),
        (true, false) => out.push(
            dep_kinds[1],
            NonBreaking,
            path,
            format!("{what} is no longer deprecated."),
        ),
        _ => {}
    }
}

/// An output may become stricter (non-null) but not looser or different.
fn safe_for_output(o: &Type, n: &Type) -> bool {
    match (o, n) {
        (Type::Named(a) | Type::NonNullNamed(a), Type::NonNullNamed(b)) => a == b,
        (Type::Named(a), Type::Named(b)) => a == b,
        (Type::List(a) | Type::NonNullList(a), Type::NonNullList(b)) => safe_for_output(a, b),
        (Type::List(a), Type::List(b)) => safe_for_output(a, b),
        _ => false,
    }
}

/// An input may become looser (nullable) but not stricter or different.
fn safe_for_input(o: &Type, n: &Type) -> bool {
    match (o, n) {
        (Type::NonNullNamed(a), Type::Named(b) | Type::NonNullNamed(b)) => a == b,
        (Type::Named(a), Type::Named(b)) => a == b,
        (Type::NonNullList(a), Type::List(b) | Type::NonNullList(b)) => safe_for_input(a, b),
        (Type::List(a), Type::List(b)) => safe_for_input(a, b),
        _ => false,
    }
}

fn diff_directive(o: &Node<DirectiveDefinition>, n: &Node<DirectiveDefinition>, out: &mut Out) {
    let name = &o.name;
    let path = format!("@{name}");
    describe(
        ["DIRECTIVE_DESCRIPTION_CHANGED"; 3],
        &path,
        &format!("directive `{path}`"),
        o.description.as_deref(),
        n.description.as_deref(),
        out,
    );
    for loc in n.locations.iter().filter(|l| !o.locations.contains(l)) {
        out.push(
            "DIRECTIVE_LOCATION_ADDED",
            NonBreaking,
            &path,
            format!("Location `{loc}` was added to directive `{path}`."),
        );
    }
    for loc in o.locations.iter().filter(|l| !n.locations.contains(l)) {
        out.push(
            "DIRECTIVE_LOCATION_REMOVED",
            Breaking,
            &path,
            format!("Location `{loc}` was removed from directive `{path}`."),
        );
    }
    match (o.repeatable, n.repeatable) {
        (true, false) => out.push(
            "DIRECTIVE_REPEATABLE_REMOVED",
            Breaking,
            &path,
            format!("Directive `{path}` is no longer repeatable."),
        ),
        (false, true) => out.push(
            "DIRECTIVE_REPEATABLE_ADDED",
            NonBreaking,
            &path,
            format!("Directive `{path}` is now repeatable."),
        ),
        _ => {}
    }
    for oa in &o.arguments {
        let apath = format!("@{name}({}:)", oa.name);
        match n.arguments.iter().find(|a| a.name == oa.name) {
            None => out.push(
                "DIRECTIVE_ARGUMENT_REMOVED",
                Breaking,
                apath,
                format!("Argument `{}` was removed from directive `{path}`.", oa.name),
            ),
            Some(na) => input_value(InputKind::DirectiveArgument, &apath, oa, na, out),
        }
    }
    for na in n
        .arguments
        .iter()
        .filter(|a| !o.arguments.iter().any(|o| o.name == a.name))
    {
        input_added(InputKind::DirectiveArgument, &format!("@{name}({}:)", na.name), na, out);
    }
}
