//! Schema review: the engine behind `hub schema check` and `hub schema diff`.

pub mod accepted;
pub mod check;
pub mod diff;
pub mod lint;
pub mod operations;
pub mod report;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use apollo_compiler::{validation::Valid, Schema};
use apollo_federation::{ApiSchemaOptions, Supergraph};
use serde::Serialize;

use self::{
    diff::{Change, Level},
    operations::{KnownOperation, OperationReport},
};

/// The API schema clients see: the supergraph without federation internals,
/// with `@defer` as the router serves it.
pub fn api_schema(supergraph_sdl: &str) -> anyhow::Result<Valid<Schema>> {
    let supergraph = Supergraph::new(supergraph_sdl).map_err(|e| anyhow::anyhow!("supergraph: {e}"))?;
    let api = supergraph
        .to_api_schema(ApiSchemaOptions {
            include_defer: true,
            include_stream: false,
        })
        .map_err(|e| anyhow::anyhow!("API schema: {e}"))?;
    Ok(api.schema().clone())
}

/// A plain SDL file (not a supergraph) as a schema.
pub fn parse_sdl(sdl: &str, path: &str) -> anyhow::Result<Valid<Schema>> {
    // `@oneOf` is in the GraphQL spec's draft and graphql-js; declare it
    // where a file uses it without a definition.
    let declared;
    let sdl = if sdl.contains("@oneOf") && !sdl.contains("directive @oneOf") {
        declared = format!("{sdl}\ndirective @oneOf on INPUT_OBJECT\n");
        declared.as_str()
    } else {
        sdl
    };
    Schema::parse_and_validate(sdl, path).map_err(|e| anyhow::anyhow!("{path}: {}", e.errors))
}

/// A change with the known operations it touches.
#[derive(Serialize, Clone, Debug)]
pub struct ReviewedChange {
    #[serde(flatten)]
    pub change: Change,
    /// `client/Operation` for each known operation it touches (breaking and
    /// dangerous changes only).
    #[serde(rename = "usedBy")]
    pub used_by: Vec<String>,
    /// The reviewed reason, when `schema-review/accepted.yaml` accepts it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
}

/// Changes between two API schemas and every known operation's verdict on the new one.
pub fn review(
    old: &Valid<Schema>,
    new: &Valid<Schema>,
    ops: &[KnownOperation],
) -> (Vec<ReviewedChange>, Vec<OperationReport>) {
    let changes = diff::diff(old, new);
    let mut value_types = operations::value_types(old);
    value_types.extend(operations::value_types(new));
    let mut reports = Vec::new();
    let mut used_by: Vec<Vec<String>> = vec![vec![]; changes.len()];
    for op in ops {
        let mut used: BTreeSet<String> = operations::coordinates(old, &op.body);
        used.extend(operations::coordinates(new, &op.body));
        let mut affected = Vec::new();
        for (i, c) in changes.iter().enumerate() {
            if c.level != Level::NonBreaking && operations::touches(&c.path, &used, &value_types) {
                affected.push(c.path.clone());
                used_by[i].push(format!("{}/{}", op.client, op.name));
            }
        }
        affected.dedup();
        let errors = operations::validate(new, op);
        reports.push(OperationReport {
            client: op.client.clone(),
            name: op.name.clone(),
            file: op.file.clone(),
            valid: errors.is_empty(),
            errors,
            affected_by: affected,
        });
    }
    let reviewed = changes
        .into_iter()
        .zip(used_by)
        .map(|(change, used_by)| ReviewedChange {
            change,
            used_by,
            accepted: None,
        })
        .collect();
    (reviewed, reports)
}
