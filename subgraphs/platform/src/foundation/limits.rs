//! Limits async-graphql does not enforce itself: the number of
//! representations one `_entities` call may resolve.

use async_graphql::{
    parser::types::{ExecutableDocument, Selection, SelectionSet},
    ServerError, Value, Variables,
};

/// Refuses `_entities` calls with more representations than allowed, before
/// any resolver or loader runs. The server calls it on the parsed document
/// (then hands that document to the executor, so nothing is parsed twice);
/// not a schema extension, which would cost on every field.
pub fn check_entities(doc: &ExecutableDocument, variables: &Variables, cap: usize) -> Result<(), ServerError> {
    for (_, op) in doc.operations.iter() {
        let n = count_representations(doc, &op.node.selection_set.node, variables, 0);
        if n > cap {
            let mut err = ServerError::new(
                format!("_entities received {n} representations; the limit is {cap}"),
                None,
            );
            let mut ext = async_graphql::ErrorExtensionValues::default();
            ext.set("code", "MAX_ENTITIES_LIMIT");
            err.extensions = Some(ext);
            return Err(err);
        }
    }
    Ok(())
}

fn count_representations(doc: &ExecutableDocument, set: &SelectionSet, variables: &Variables, depth: usize) -> usize {
    // Root-level only (fragments at the root included); a small bound keeps
    // cyclic fragments from looping before validation rejects them.
    if depth > 4 {
        return 0;
    }
    set.items
        .iter()
        .map(|sel| match &sel.node {
            Selection::Field(f) if f.node.name.node == "_entities" => f
                .node
                .get_argument("representations")
                .map(|v| {
                    match v
                        .node
                        .clone()
                        .into_const_with(|name| variables.get(&name).cloned().ok_or(()))
                    {
                        Ok(Value::List(items)) => items.len(),
                        _ => 0,
                    }
                })
                .unwrap_or(0),
            Selection::Field(_) => 0,
            Selection::InlineFragment(frag) => {
                count_representations(doc, &frag.node.selection_set.node, variables, depth + 1)
            }
            Selection::FragmentSpread(spread) => doc
                .fragments
                .get(&spread.node.fragment_name.node)
                .map(|f| count_representations(doc, &f.node.selection_set.node, variables, depth + 1))
                .unwrap_or(0),
        })
        .sum()
}
