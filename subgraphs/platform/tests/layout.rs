//! The platform's rooms only reach down: a module that names another room
//! (`crate::<room>::…`) must not be named back, directly or around a loop,
//! and no two modules depend on each other. A new upward reach fails here
//! with the loop it closes, before it tangles the crate.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

type Graph = BTreeMap<String, BTreeSet<String>>;

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// Rooms: the directories under `src/`, each with a `mod.rs`.
fn rooms() -> BTreeSet<String> {
    fs::read_dir(SRC)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("mod.rs").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::` path in the code (comments aside), with `use crate::{a::…,
/// b::…}` groups expanded to their first two segments.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut paths = vec![];
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain([',']) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        paths.push(segments(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
        } else if !rest
            .trim_start_matches(|c: char| c.is_alphanumeric() || c == '_')
            .starts_with('!')
        {
            // `$crate::name!(…)` invokes a macro: no module to place.
            paths.push(segments(rest));
        }
    }
    paths.retain(|p| !p.is_empty());
    paths
}

fn segments(path: &str) -> Vec<String> {
    path.trim()
        .split("::")
        .take(2)
        .map(|s| {
            s.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .take_while(|s| !s.is_empty())
        .collect()
}

/// (room graph, module graph, paths that skip the room).
fn graphs() -> (Graph, Graph, Vec<String>) {
    let rooms = rooms();
    let (mut by_room, mut by_module, mut flat) = (Graph::new(), Graph::new(), vec![]);
    for room in &rooms {
        let mut files = vec![];
        sources(&Path::new(SRC).join(room), &mut files);
        for file in files {
            let rel = file.strip_prefix(Path::new(SRC).join(room)).unwrap_or(&file);
            let first = rel
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().into_owned());
            let module = match first.as_deref().map(|f| f.trim_end_matches(".rs")) {
                Some("mod") | None => room.clone(),
                Some(m) => format!("{room}::{m}"),
            };
            let code = fs::read_to_string(&file).unwrap_or_default();
            for path in crate_paths(&code) {
                if !rooms.contains(&path[0]) {
                    flat.push(format!("{}: crate::{}", file.display(), path.join("::")));
                    continue;
                }
                if &path[0] != room {
                    by_room.entry(room.clone()).or_default().insert(path[0].clone());
                }
                let target = path.join("::");
                if target != module && !module.starts_with(&format!("{target}::")) {
                    by_module.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    (by_room, by_module, flat)
}

/// The first loop found, as `a → b → … → a`.
fn cycle(graph: &Graph) -> Option<String> {
    fn visit(node: &str, graph: &Graph, stack: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<String> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut path = stack[at..].to_vec();
            path.push(node.to_string());
            return Some(path.join(" → "));
        }
        if !done.insert(node.to_string()) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut vec![], &mut done))
}

#[test]
fn the_rooms_only_reach_down() {
    let (rooms, _, _) = graphs();
    assert!(rooms.len() >= 6, "the rooms were not found under {SRC}: {rooms:?}");
    assert_eq!(
        cycle(&rooms),
        None,
        "rooms depend on each other in a loop; move the shared part down"
    );
}

#[test]
fn no_two_modules_depend_on_each_other() {
    let (_, modules, _) = graphs();
    assert_eq!(
        cycle(&modules),
        None,
        "modules depend on each other in a loop; move the shared part down"
    );
}

#[test]
fn code_in_the_crate_names_the_room() {
    let (_, _, flat) = graphs();
    assert!(
        flat.is_empty(),
        "use crate::<room>::<module> inside the platform:\n{}",
        flat.join("\n")
    );
}

#[test]
fn the_check_sees_a_loop() {
    let graph: Graph = [("data", "compliance"), ("compliance", "service"), ("service", "data")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), BTreeSet::from([b.to_string()])))
        .collect();
    assert_eq!(
        cycle(&graph).as_deref(),
        Some("compliance → service → data → compliance")
    );
    let paths = crate_paths("use crate::{data::db::TenantTx, security::{auth, guards}};\n// crate::service::kit\n");
    assert_eq!(
        paths,
        vec![vec!["data".to_string(), "db".into()], vec!["security".into()]]
    );
}
