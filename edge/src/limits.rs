//! Operation limits checked before planning: selection depth, aliases and
//! root fields, with fragments expanded. Pure functions of the document.
//!
//! Where introspection is allowed (development), the root introspection
//! fields (`__schema`, `__type`) are measured against their own depth limit
//! instead of the operation's: the standard introspection query every tool
//! sends (graphql-js `getIntrospectionQuery()`) nests about 15 levels, and
//! must load, while a deeper abuse is still refused.

use std::collections::{HashMap, HashSet};

use apollo_compiler::ast::{Definition, Document, FragmentDefinition, Selection};
use serde::Deserialize;

use crate::Rejection;

/// Defaults from DESIGN.md.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct OperationLimits {
    pub max_depth: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    /// Whether introspection is served (then it has its own depth limit).
    pub introspection: bool,
    pub max_introspection_depth: usize,
}

impl Default for OperationLimits {
    fn default() -> Self {
        OperationLimits {
            max_depth: 12,
            max_aliases: 30,
            max_root_fields: 20,
            introspection: false,
            max_introspection_depth: 20,
        }
    }
}

/// What an operation measures.
#[derive(Debug, PartialEq, Eq)]
pub struct Measure {
    /// Depth of everything but the root introspection fields.
    pub depth: usize,
    /// Depth of the root introspection fields (`__schema`, `__type`).
    pub introspection_depth: usize,
    pub aliases: usize,
    pub root_fields: usize,
}

const INTROSPECTION_ROOTS: [&str; 2] = ["__schema", "__type"];

impl OperationLimits {
    /// `Ok` when within limits (or unparsable: the router reports syntax errors itself).
    pub fn check(&self, query: &str, operation_name: Option<&str>) -> Result<(), Rejection> {
        let Some(m) = measure(query, operation_name) else {
            return Ok(());
        };
        let (depth, introspection_depth) = if self.introspection {
            (m.depth, m.introspection_depth)
        } else {
            (m.depth.max(m.introspection_depth), 0)
        };
        if introspection_depth > self.max_introspection_depth {
            return Err(Rejection::new(
                400,
                "MAX_DEPTH_LIMIT",
                format!(
                    "The introspection is nested {introspection_depth} levels deep; the limit is {}.",
                    self.max_introspection_depth
                ),
            ));
        }
        if depth > self.max_depth {
            return Err(Rejection::new(
                400,
                "MAX_DEPTH_LIMIT",
                format!(
                    "The operation is nested {depth} levels deep; the limit is {}.",
                    self.max_depth
                ),
            ));
        }
        if m.aliases > self.max_aliases {
            return Err(Rejection::new(
                400,
                "MAX_ALIASES_LIMIT",
                format!(
                    "The operation uses {} aliases; the limit is {}.",
                    m.aliases, self.max_aliases
                ),
            ));
        }
        if m.root_fields > self.max_root_fields {
            return Err(Rejection::new(
                400,
                "MAX_ROOT_FIELDS_LIMIT",
                format!(
                    "The operation selects {} root fields; the limit is {}.",
                    m.root_fields, self.max_root_fields
                ),
            ));
        }
        Ok(())
    }
}

/// Measures the selected operation; `None` if the document does not parse
/// or names no such operation.
pub fn measure(query: &str, operation_name: Option<&str>) -> Option<Measure> {
    let doc = Document::parse(query, "operation.graphql").ok()?;
    let fragments: HashMap<&str, &FragmentDefinition> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::FragmentDefinition(f) => Some((f.name.as_str(), &**f)),
            _ => None,
        })
        .collect();
    let op = doc.definitions.iter().find_map(|d| match d {
        Definition::OperationDefinition(op) if operation_name.is_none() || op.name.as_deref() == operation_name => {
            Some(op)
        }
        _ => None,
    })?;
    let walker = Walker { fragments: &fragments };
    let mut visiting = HashSet::new();
    // Each root selection is measured on its own (no copy of the document):
    // introspection roots count toward their own depth.
    let (mut depth, mut introspection_depth) = (0, 0);
    for sel in &op.selection_set {
        let d = walker.depth(std::slice::from_ref(sel), &mut visiting);
        match sel {
            Selection::Field(f) if INTROSPECTION_ROOTS.contains(&f.name.as_str()) => {
                introspection_depth = introspection_depth.max(d)
            }
            _ => depth = depth.max(d),
        }
    }
    Some(Measure {
        depth,
        introspection_depth,
        aliases: walker.aliases(&op.selection_set, &mut HashSet::new()),
        root_fields: walker.root_fields(&op.selection_set, &mut HashSet::new()),
    })
}

struct Walker<'a> {
    fragments: &'a HashMap<&'a str, &'a FragmentDefinition>,
}

impl Walker<'_> {
    fn depth<'s>(&'s self, set: &'s [Selection], visiting: &mut HashSet<&'s str>) -> usize {
        set.iter()
            .map(|s| match s {
                Selection::Field(f) if f.selection_set.is_empty() => 1,
                Selection::Field(f) => 1 + self.depth(&f.selection_set, visiting),
                Selection::InlineFragment(i) => self.depth(&i.selection_set, visiting),
                Selection::FragmentSpread(sp) => {
                    self.spread(sp.fragment_name.as_str(), visiting, |w, set, v| w.depth(set, v))
                }
            })
            .max()
            .unwrap_or(0)
    }

    fn aliases<'s>(&'s self, set: &'s [Selection], visiting: &mut HashSet<&'s str>) -> usize {
        set.iter()
            .map(|s| match s {
                Selection::Field(f) => usize::from(f.alias.is_some()) + self.aliases(&f.selection_set, visiting),
                Selection::InlineFragment(i) => self.aliases(&i.selection_set, visiting),
                Selection::FragmentSpread(sp) => {
                    self.spread(sp.fragment_name.as_str(), visiting, |w, set, v| w.aliases(set, v))
                }
            })
            .sum()
    }

    fn root_fields<'s>(&'s self, set: &'s [Selection], visiting: &mut HashSet<&'s str>) -> usize {
        set.iter()
            .map(|s| match s {
                Selection::Field(_) => 1,
                Selection::InlineFragment(i) => self.root_fields(&i.selection_set, visiting),
                Selection::FragmentSpread(sp) => {
                    self.spread(sp.fragment_name.as_str(), visiting, |w, set, v| w.root_fields(set, v))
                }
            })
            .sum()
    }

    /// Follows a fragment spread; a cycle (invalid anyway) counts as nothing.
    fn spread<'s>(
        &'s self,
        name: &'s str,
        visiting: &mut HashSet<&'s str>,
        f: impl Fn(&'s Self, &'s [Selection], &mut HashSet<&'s str>) -> usize,
    ) -> usize {
        let Some(frag) = self.fragments.get(name) else { return 0 };
        if !visiting.insert(name) {
            return 0;
        }
        let n = f(self, &frag.selection_set, visiting);
        visiting.remove(name);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_aliases_and_root_fields_are_measured_through_fragments() {
        let q = "query Q { a: me { ...U } b: me { id } currentOrganization { id } }
                 fragment U on User { id org: organization { members { edges { node { id } } } } }";
        assert_eq!(
            measure(q, None),
            Some(Measure {
                depth: 6,
                introspection_depth: 0,
                aliases: 3,
                root_fields: 3
            })
        );
        assert_eq!(
            measure("{ __typename }", None),
            Some(Measure {
                depth: 1,
                introspection_depth: 0,
                aliases: 0,
                root_fields: 1
            })
        );
    }

    #[test]
    fn the_named_operation_is_measured() {
        let q = "query A { a { b { c } } } query B { x }";
        assert_eq!(measure(q, Some("B")).unwrap().depth, 1);
        assert_eq!(measure(q, Some("A")).unwrap().depth, 3);
        assert!(measure(q, Some("C")).is_none());
    }

    #[test]
    fn each_limit_has_its_code() {
        let l = OperationLimits {
            max_depth: 2,
            max_aliases: 1,
            max_root_fields: 2,
            ..Default::default()
        };
        assert_eq!(l.check("{ a { b { c } } }", None).unwrap_err().code, "MAX_DEPTH_LIMIT");
        assert_eq!(l.check("{ x: a y: a }", None).unwrap_err().code, "MAX_ALIASES_LIMIT");
        assert_eq!(l.check("{ a b c }", None).unwrap_err().code, "MAX_ROOT_FIELDS_LIMIT");
        assert!(l.check("{ a { b } c }", None).is_ok());
    }

    /// graphql-js 16's `getIntrospectionQuery()`, as GraphiQL, graphql-codegen
    /// and Apollo Sandbox send it.
    pub const STANDARD_INTROSPECTION: &str = include_str!("../tests/introspection.graphql");

    #[test]
    fn the_standard_introspection_query_passes_where_introspection_is_allowed() {
        let dev = OperationLimits {
            introspection: true,
            ..Default::default()
        };
        assert!(dev.check(STANDARD_INTROSPECTION, None).is_ok());
        let m = measure(STANDARD_INTROSPECTION, None).unwrap();
        assert!(m.introspection_depth > dev.max_depth, "{m:?}");
        // Elsewhere it counts like any other field.
        assert_eq!(
            OperationLimits::default()
                .check(STANDARD_INTROSPECTION, None)
                .unwrap_err()
                .code,
            "MAX_DEPTH_LIMIT"
        );
    }

    #[test]
    fn a_deep_introspection_is_still_refused() {
        let dev = OperationLimits {
            introspection: true,
            ..Default::default()
        };
        let deep = format!(
            "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
            "ofType { ".repeat(25),
            "} ".repeat(25)
        );
        let err = dev.check(&deep, None).unwrap_err();
        assert_eq!(err.code, "MAX_DEPTH_LIMIT");
        assert!(err.message.contains("introspection"), "{}", err.message);
        // And ordinary fields beside it keep the ordinary limit.
        let mixed = "{ __schema { queryType { name } } a { b { c { d { e { f { g { h { i { j { k { l { m } } } } } } } } } } } } }";
        assert_eq!(dev.check(mixed, None).unwrap_err().code, "MAX_DEPTH_LIMIT");
    }

    #[test]
    fn cyclic_fragments_do_not_loop() {
        let q = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A a }";
        assert!(measure(q, None).is_some());
    }
}
