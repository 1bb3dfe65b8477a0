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

/// Splits a shell command line into words: single quotes keep everything, double quotes
/// expand `$NAME`, bare words expand `$NAME` too. Enough for the README's curl lines.
fn shell_words(line: &str, vars: &BTreeMap<String, String>) -> Vec<String> {
    let expand = |text: &str| {
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push_str(vars.get(&name).map(String::as_str).unwrap_or_default());
            } else {
                out.push(c);
            }
        }
        out
    };
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                word.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                in_word = true;
                let quoted: String = chars.by_ref().take_while(|&c| c != '"').collect();
                word.push_str(&expand(&quoted));
            }
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            other => {
                in_word = true;
                let mut bare = String::from(other);
                // Read a bare run, then expand it as a whole.
                let rest: String = chars
                    .clone()
                    .take_while(|c| !matches!(c, ' ' | '\t' | '\'' | '"'))
                    .collect();
                for _ in 0..rest.chars().count() {
                    chars.next();
                }
                bare.push_str(&rest);
                word.push_str(&expand(&bare));
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Runs one `curl ...` of the README against `base` (which stands in for localhost:7071):
/// the status and the body.
async fn run_curl(words: &[String], base: &str) -> (u16, String) {
    let client = reqwest::Client::new();
    let mut method = None;
    let mut headers = Vec::new();
    let mut body: Option<Vec<u8>> = None;
    let mut url = None;
    let mut args = words.iter().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-s" => {}
            "-X" => method = args.next().cloned(),
            "-H" => headers.push(args.next().expect("a header").clone()),
            "-d" => body = Some(args.next().expect("a body").clone().into_bytes()),
            "-T" => {
                args.next();
                method.get_or_insert_with(|| "PUT".to_owned());
                body = Some(b"the file's content".to_vec());
            }
            other => url = Some(other.replacen("localhost:7071", base, 1)),
        }
    }
    let url = url.expect("a URL");
    let url = if url.starts_with("http") {
        url
    } else {
        format!("http://{url}")
    };
    let method = method.unwrap_or_else(|| {
        if body.is_some() {
            "POST".into()
        } else {
            "GET".into()
        }
    });
    let mut request = client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
    for header in headers {
        let (name, value) = header.split_once(':').expect("name: value");
        request = request.header(name.trim(), value.trim());
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.expect("send");
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

#[tokio::test]
async fn the_readme_users_walkthrough_runs_in_order() {
    let app = crate::common::spawn_app().await;
    let base = app.address.to_string();
    let readme = readme();
    let section = readme.split("\n### users").nth(1).expect("### users");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("the users walkthrough");
    // Continuation lines joined into one command each.
    let commands = block.replace("\\\n", " ");
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut steps = 0;
    for line in commands.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (command, comment) = match line.split_once(" # ") {
            Some((command, comment)) => (command.trim(), comment.trim()),
            None => (line, ""),
        };
        if let Some((name, value)) = command
            .split_once('=')
            .filter(|(n, _)| n.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        {
            let value =
                if let Some(inner) = value.strip_prefix("$(").and_then(|v| v.strip_suffix(')')) {
                    // TOKEN=$(curl ... | jq -r .token)
                    let (curl, jq) = inner.split_once(" | jq -r .").expect("curl | jq -r .field");
                    let (status, body) = run_curl(&shell_words(curl, &vars), &base).await;
                    assert_eq!(status, 200, "{command}: {body}");
                    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                    json[jq].as_str().expect("the field").to_owned()
                } else {
                    shell_words(value, &vars).join(" ")
                };
            vars.insert(name.to_owned(), value);
            continue;
        }
        let words = shell_words(command, &vars);
        assert_eq!(words[0], "curl", "{command}");
        let (status, body) = run_curl(&words, &base).await;
        steps += 1;
        match comment
            .split_whitespace()
            .next()
            .and_then(|w| w.trim_end_matches(':').parse::<u16>().ok())
        {
            Some(expected) => assert_eq!(status, expected, "{command}: {body}"),
            None => assert!((200..300).contains(&status), "{command}: {status} {body}"),
        }
    }
    assert!(steps >= 7, "the walkthrough ran {steps} requests");
}
