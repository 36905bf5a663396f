//! The operations clients are known to run — `frontend-codegen/operations/
//! <client>/*.graphql` and every persisted query manifest — checked against a
//! schema, with the schema coordinates each one uses, so a change can name
//! the operations it breaks.

use std::{
    collections::{BTreeSet, HashSet},
    path::{Path, PathBuf},
};

use apollo_compiler::{
    ast::Value,
    executable::{Selection, SelectionSet},
    schema::ExtendedType,
    validation::Valid,
    ExecutableDocument, Node, Schema,
};
use serde::{Deserialize, Serialize};

/// One operation a client runs.
#[derive(Clone, Debug)]
pub struct KnownOperation {
    pub client: String,
    pub name: String,
    /// Where it is kept, relative to the repository (or as given).
    pub file: String,
    pub body: String,
}

/// The verdict on one operation.
#[derive(Serialize, Clone, Debug)]
pub struct OperationReport {
    pub client: String,
    pub name: String,
    pub file: String,
    pub valid: bool,
    pub errors: Vec<String>,
    /// Paths of the breaking or dangerous changes it touches.
    #[serde(rename = "affectedBy")]
    pub affected_by: Vec<String>,
}

#[derive(Deserialize)]
struct Manifest {
    operations: Vec<ManifestOperation>,
}

#[derive(Deserialize)]
struct ManifestOperation {
    name: Option<String>,
    body: String,
}

/// Every operation under `dir`: `*.graphql` files (the client is the folder
/// they are in) and persisted query manifests `*.json` (the client is the
/// file's stem). An operation kept both as a file and in its client's
/// manifest is listed once, from its file.
pub fn load(dir: &Path, display_root: &Path) -> anyhow::Result<Vec<KnownOperation>> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    let shown = |p: &Path| p.strip_prefix(display_root).unwrap_or(p).display().to_string();
    let mut ops = Vec::new();
    let mut seen = HashSet::new();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "graphql")) {
        let body = std::fs::read_to_string(path)?;
        let client = if path.parent() == Some(dir) {
            "default".to_string()
        } else {
            path.parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let name = operation_name(&body).unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        seen.insert((client.clone(), name.clone()));
        ops.push(KnownOperation {
            client,
            name,
            file: shown(path),
            body,
        });
    }
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let text = std::fs::read_to_string(path)?;
        let Ok(manifest) = serde_json::from_str::<Manifest>(&text) else {
            continue; // not a manifest (package.json and the like)
        };
        let client = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for op in manifest.operations {
            let name = op.name.clone().or_else(|| operation_name(&op.body)).unwrap_or_default();
            if seen.insert((client.clone(), name.clone())) {
                ops.push(KnownOperation {
                    client: client.clone(),
                    name,
                    file: shown(path),
                    body: op.body,
                });
            }
        }
    }
    Ok(ops)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    for e in entries {
        let path = e?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            if name != "node_modules" && !name.starts_with('.') {
                walk(&path, out)?;
            }
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn operation_name(body: &str) -> Option<String> {
    let doc = apollo_compiler::ast::Document::parse(body, "op.graphql").ok()?;
    doc.definitions.iter().find_map(|d| match d {
        apollo_compiler::ast::Definition::OperationDefinition(op) => op.name.as_ref().map(|n| n.to_string()),
        _ => None,
    })
}

/// Validation errors of `op` against `schema` (empty when valid).
pub fn validate(schema: &Valid<Schema>, op: &KnownOperation) -> Vec<String> {
    match ExecutableDocument::parse_and_validate(schema, op.body.as_str(), &op.file) {
        Ok(_) => vec![],
        Err(e) => e
            .errors
            .iter()
            .map(|d| {
                let msg = d.error.to_string();
                match d.line_column_range() {
                    Some(r) => format!("{}:{}: {msg}", r.start.line, r.start.column),
                    None => msg,
                }
            })
            .collect(),
    }
}

/// The schema coordinates `op` uses in `schema` (types, `Type.field`,
/// `Type.field(arg:)`, `Input.field`, `@directive(arg:)`); parts the schema
/// does not know are skipped, so the union over old and new schema covers
/// both what it used and what it uses.
pub fn coordinates(schema: &Valid<Schema>, body: &str) -> BTreeSet<String> {
    let doc = match ExecutableDocument::parse(schema, body, "op.graphql") {
        Ok(d) => d,
        Err(e) => e.partial,
    };
    let mut w = Walker {
        schema,
        doc: &doc,
        used: BTreeSet::new(),
        fragments: HashSet::new(),
    };
    for op in doc.operations.iter() {
        if let Some(root) = schema.root_operation(op.operation_type) {
            w.used.insert(root.to_string());
        }
        for v in &op.variables {
            w.input_type(v.ty.inner_named_type().as_str(), &mut HashSet::new());
        }
        w.directives(&op.directives);
        w.selection_set(&op.selection_set);
    }
    w.used
}

struct Walker<'a> {
    schema: &'a Schema,
    doc: &'a ExecutableDocument,
    used: BTreeSet<String>,
    fragments: HashSet<String>,
}

impl Walker<'_> {
    fn selection_set(&mut self, set: &SelectionSet) {
        self.used.insert(set.ty.to_string());
        for sel in &set.selections {
            match sel {
                Selection::Field(f) => {
                    if f.name.starts_with("__") {
                        continue;
                    }
                    let coord = format!("{}.{}", set.ty, f.name);
                    self.used.insert(coord.clone());
                    self.used.insert(f.definition.ty.inner_named_type().to_string());
                    for a in &f.arguments {
                        self.used.insert(format!("{coord}({}:)", a.name));
                        if let Some(def) = f.definition.arguments.iter().find(|d| d.name == a.name) {
                            self.value(def.ty.inner_named_type().as_str(), &a.value);
                        }
                    }
                    self.directives(&f.directives);
                    self.selection_set(&f.selection_set);
                }
                Selection::InlineFragment(i) => {
                    if let Some(t) = &i.type_condition {
                        self.used.insert(t.to_string());
                    }
                    self.directives(&i.directives);
                    self.selection_set(&i.selection_set);
                }
                Selection::FragmentSpread(s) => {
                    self.directives(&s.directives);
                    if self.fragments.insert(s.fragment_name.to_string()) {
                        if let Some(frag) = self.doc.fragments.get(&s.fragment_name) {
                            self.selection_set(&frag.selection_set);
                        }
                    }
                }
            }
        }
    }

    fn directives(&mut self, list: &apollo_compiler::executable::DirectiveList) {
        for d in list.iter() {
            self.used.insert(format!("@{}", d.name));
            for a in &d.arguments {
                self.used.insert(format!("@{}({}:)", d.name, a.name));
            }
        }
    }

    /// A literal argument: the input fields it sets.
    fn value(&mut self, ty: &str, v: &Node<Value>) {
        self.used.insert(ty.to_string());
        match v.as_ref() {
            Value::Object(fields) => {
                if let Some(ExtendedType::InputObject(io)) = self.schema.types.get(ty) {
                    for (name, fv) in fields {
                        self.used.insert(format!("{ty}.{name}"));
                        if let Some(def) = io.fields.get(name) {
                            self.value(def.ty.inner_named_type().as_str(), fv);
                        }
                    }
                }
            }
            Value::List(items) => {
                for item in items {
                    self.value(ty, item);
                }
            }
            // A variable of an input type may set any of its fields.
            Value::Variable(_) => self.input_type(ty, &mut HashSet::new()),
            _ => {}
        }
    }

    fn input_type(&mut self, ty: &str, seen: &mut HashSet<String>) {
        self.used.insert(ty.to_string());
        if !seen.insert(ty.to_string()) {
            return;
        }
        if let Some(ExtendedType::InputObject(io)) = self.schema.types.get(ty) {
            for (name, def) in &io.fields {
                self.used.insert(format!("{ty}.{name}"));
                self.input_type(def.ty.inner_named_type().as_str(), seen);
            }
        }
    }
}

/// Whether a change at `path` touches an operation using `used`.
/// `value_types` are the enums and input object types of either schema:
/// their members (values, input fields, `@oneOf`) are reached through the
/// type, while an object's field only through its own coordinate.
pub fn touches(path: &str, used: &BTreeSet<String>, value_types: &HashSet<String>) -> bool {
    if path == "schema" || used.contains(path) {
        return true;
    }
    if let Some(directive) = path.strip_prefix('@') {
        let name = directive.split('(').next().unwrap_or_default();
        return used.contains(&format!("@{name}"));
    }
    if let Some((field, _)) = path.split_once('(') {
        return used.contains(field);
    }
    match path.split_once('.') {
        Some((ty, _)) => value_types.contains(ty) && used.contains(ty),
        None => false,
    }
}

/// The enum and input object type names of a schema.
pub fn value_types(schema: &Schema) -> HashSet<String> {
    schema
        .types
        .iter()
        .filter(|(_, t)| matches!(t, ExtendedType::Enum(_) | ExtendedType::InputObject(_)))
        .map(|(n, _)| n.to_string())
        .collect()
}
