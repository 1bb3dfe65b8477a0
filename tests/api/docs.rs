//! The README is the front door: its configuration table must list exactly the settings the
//! handler reads, with their defaults.

use std::collections::BTreeMap;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
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

#[test]
fn the_configuration_table_matches_the_code() {
    let table = configuration_table(&readme());
    let settings: BTreeMap<String, String> = handler::config::SETTINGS
        .iter()
        .map(|s| {
            (
                s.name.to_owned(),
                match (s.default, s.deploy) {
                    (Some(default), _) => default,
                    (None, handler::config::Deploy::Host) => "set by the host",
                    (None, _) => "unset",
                }
                .to_owned(),
            )
        })
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
