//! No REST path of the four services is written as a literal outside `services/api`.
//!
//! The rule, precisely:
//! - Scanned: every `.rs` file of the workspace (`shared/`, `services/*/` — sources, tests,
//!   examples, benches) except those of `services/api/` itself, which holds the paths
//!   (`mycoin_api::paths`) and the typed clients built on them.
//! - A REST path literal is a string literal (plain or raw, `format!` strings included; comments
//!   do not count) holding `/` followed by a top segment of the keys, wallet, miner or peer
//!   service (`keys`, `seed`, `wallet`, `mine`, `miner`, `chain`, `blocks`, `headers`, `transactions`,
//!   `sync`, `mempool`, `addresses`, `peers`) and then the end of the literal or `/`, `?`, `{`,
//!   `"`: where that `/` starts the literal, follows a `{…}` placeholder (`"{base}/keys"`) or a
//!   port (`":8001/keys"`).
//! - Allowed: the route declarations of each service, in its own `src/routes/` directory
//!   (`web::resource("/keys")`, utoipa's `path = "/keys"`): the one place a server names its
//!   paths.
//!
//! The paths every service shares (`/healthz`, `/metrics`, `/api-docs/...`) belong to
//! mycoin-web and are not covered.

use std::path::{Path, PathBuf};

const SEGMENTS: &[&str] = &[
    "keys",
    "seed",
    "wallet",
    "mine",
    "miner",
    "chain",
    "blocks",
    "headers",
    "transactions",
    "sync",
    "mempool",
    "addresses",
    "peers",
];

const SERVICES: &[&str] = &["keys", "wallet", "miner", "peer"];

/// The string literals of Rust source `text`, with their line numbers; comments skipped.
fn string_literals(text: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let count_lines =
        |from: usize, to: usize| chars[from..to].iter().filter(|c| **c == '\n').count();
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                let start = i;
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                line += count_lines(start, i);
            }
            'r' if (next == Some('"') || next == Some('#'))
                && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while chars.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if chars.get(j) != Some(&'"') {
                    i += 1;
                    continue;
                }
                let start = j + 1;
                let mut end = start;
                loop {
                    if end >= chars.len() {
                        break;
                    }
                    if chars[end] == '"'
                        && (0..hashes).all(|k| chars.get(end + 1 + k) == Some(&'#'))
                    {
                        break;
                    }
                    end += 1;
                }
                found.push((line, chars[start..end.min(chars.len())].iter().collect()));
                line += count_lines(i, end.min(chars.len()));
                i = end + 1 + hashes;
            }
            '"' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && chars[end] != '"' {
                    end += if chars[end] == '\\' { 2 } else { 1 };
                }
                let end = end.min(chars.len());
                found.push((line, chars[start..end].iter().collect()));
                line += count_lines(i, end);
                i = end + 1;
            }
            '\'' => {
                // A char literal ('x', '\n', '"') or a lifetime ('a).
                if next == Some('\\') {
                    let mut j = i + 2;
                    while j < chars.len() && chars[j] != '\'' {
                        j += 1;
                    }
                    i = j + 1;
                } else if chars.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// Whether a literal's content holds a REST path of the four services (see the module doc).
fn holds_rest_path(literal: &str) -> bool {
    let bytes = literal.as_bytes();
    literal.match_indices('/').any(|(at, _)| {
        let starts = at == 0 || bytes[at - 1] == b'}' || bytes[at - 1].is_ascii_digit();
        starts
            && SEGMENTS.iter().any(|segment| {
                literal[at + 1..]
                    .strip_prefix(segment)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '{', '"']))
            })
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn allowed(relative: &Path) -> bool {
    SERVICES
        .iter()
        .any(|service| relative.starts_with(format!("services/{service}/src/routes")))
}

#[test]
fn rest_paths_live_in_the_api_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    rust_files(&root.join("shared"), &mut files);
    rust_files(&root.join("services"), &mut files);
    assert!(
        files.len() > 50,
        "the scan found only {} files",
        files.len()
    );

    let mut offences = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&root).unwrap().to_path_buf();
        if relative.starts_with("services/api") || allowed(&relative) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        offences.extend(
            string_literals(&text)
                .into_iter()
                .filter(|(_, literal)| holds_rest_path(literal))
                .map(|(line, literal)| format!("{}:{line}: {literal:?}", relative.display())),
        );
    }
    assert!(
        offences.is_empty(),
        "REST paths written as literals outside services/api (use mycoin_api::paths or a \
         typed client of mycoin_api::client):\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_scanner_finds_paths_in_literals_only() {
    let source = r##"
        // "/keys" in a comment is prose
        /* "/blocks" too */
        let a = "/keys";
        let b = format!("/blocks/{}", hash);
        let c = format!("{base}/wallet/send");
        let d = "http://127.0.0.1:8001/chain";
        let e = r#"/peers?x=1"#;
        let f = '"'; let g = "/tmp/keys-dir"; let h = "/keysafe"; let i = "a/keys";
        fn j<'a>(x: &'a str) -> &'a str { "/mine" }
        let k = "/seed/mnemonic";
    "##;
    let hits: Vec<(usize, String)> = string_literals(source)
        .into_iter()
        .filter(|(_, literal)| holds_rest_path(literal))
        .collect();
    let lines: Vec<usize> = hits.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, vec![4, 5, 6, 7, 8, 10, 11], "{hits:?}");
}
