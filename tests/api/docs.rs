//! The README is the front door: its configuration table must list exactly the settings the
//! handler reads, with their defaults. The table is rendered from `handler::config::SETTINGS`;
//! after changing a setting, `UPDATE_README=1 cargo test --test docs` rewrites it.

use std::collections::BTreeMap;

use handler::config::{Deploy, Setting, SETTINGS};

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
const TABLE_HEADER: &str = "| variable | default | meaning |\n|---|---|---|\n";

fn readme() -> String {
    std::fs::read_to_string(README).expect("README.md")
}

/// `variable -> default` from the rows of the table under `## Configuration`.
fn configuration_table(readme: &str) -> BTreeMap<String, String> {
    let section = readme
        .split("\n## Configuration")
        .nth(1)
        .expect("a ## Configuration section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            (
                cells[1].trim_matches('`').to_owned(),
                cells[2].trim_matches('`').to_owned(),
            )
        })
        .collect()
}

/// What the table's default column says for `setting`.
fn default_text(setting: &Setting) -> &'static str {
    match (setting.default, setting.deploy) {
        (Some(default), _) => default,
        (None, Deploy::Host) => "set by the host",
        (None, _) => "unset",
    }
}

/// The configuration table, header included, one row per setting in SETTINGS' order.
fn rendered_table() -> String {
    let mut table = TABLE_HEADER.to_owned();
    for setting in SETTINGS {
        assert!(
            !setting.description.contains(['|', '\n']),
            "{}: a description must fit one table cell",
            setting.name
        );
        let default = match setting.default {
            Some("") => String::new(),
            Some(default) => format!("`{default}`"),
            None => default_text(setting).to_owned(),
        };
        table.push_str(&format!(
            "| `{}` | {default} | {} |\n",
            setting.name, setting.description
        ));
    }
    table
}

/// Where the table sits in `readme`: from its header to the end of its last row.
fn table_span(readme: &str) -> std::ops::Range<usize> {
    let section = readme
        .find("\n## Configuration")
        .expect("a ## Configuration section");
    let start = section
        + readme[section..]
            .find(TABLE_HEADER)
            .expect("a configuration table under ## Configuration");
    let len: usize = readme[start..]
        .split_inclusive('\n')
        .take_while(|line| line.starts_with('|'))
        .map(str::len)
        .sum();
    start..start + len
}

#[test]
fn the_configuration_table_is_rendered_from_settings() {
    let readme = readme();
    let span = table_span(&readme);
    let wanted = rendered_table();
    if readme[span.clone()] == wanted {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some() {
        let mut updated = readme.clone();
        updated.replace_range(span, &wanted);
        // Through a rename, so the other tests here never read half a README.
        let temporary = format!("{README}.update");
        std::fs::write(&temporary, updated).expect("write README.md.update");
        std::fs::rename(&temporary, README).expect("replace README.md");
        return;
    }
    panic!(
        "README ## Configuration is not the table handler::config::SETTINGS renders; run \
         `UPDATE_README=1 cargo test --test docs` to rewrite it.\n--- README:\n{}--- SETTINGS:\n{wanted}",
        &readme[span]
    );
}

#[test]
fn the_configuration_table_matches_the_code() {
    let table = configuration_table(&readme());
    let settings: BTreeMap<String, String> = SETTINGS
        .iter()
        .map(|s| (s.name.to_owned(), default_text(s).to_owned()))
        .collect();
    assert_eq!(
        table, settings,
        "README ## Configuration must list handler::config::SETTINGS with their defaults"
    );
}

#[test]
fn the_readme_names_the_commands_ci_runs() {
    let readme = readme();
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).unwrap();
    assert!(
        readme.contains("scripts/test"),
        "README must give the test command"
    );
    assert!(
        ci.contains("\nscripts/test"),
        ".ci/run must call the README's test command"
    );
    assert!(readme.contains("cargo run --release -- package"));
}
