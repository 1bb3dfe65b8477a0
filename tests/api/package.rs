//! `handler package` output: the layout the host expects at the zip root, and the executable
//! bit without which the host cannot start the handler.

use std::{
    collections::BTreeSet, io::Read, os::unix::fs::PermissionsExt, path::Path, process::Command,
};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn dist_and_zip_hold_host_json_every_function_and_an_executable_handler() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("dist");
    let binary = Path::new(env!("CARGO_BIN_EXE_handler"));
    let package = handler::package::assemble(root(), binary, &out).expect("assemble");

    let functions = handler::package::function_definitions(root()).unwrap();
    let mut expected: BTreeSet<String> = ["host.json".to_owned(), "handler".to_owned()].into();
    for (name, _) in &functions {
        expected.insert(format!("{name}/function.json"));
    }

    // The zip.
    assert_eq!(package.zip, scratch.path().join("dist.zip"));
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&package.zip).unwrap()).unwrap();
    let names: BTreeSet<String> = zip
        .file_names()
        .map(|name| name.expect("UTF-8 entry name").into_owned())
        .collect();
    assert_eq!(names, expected, "zip root layout");
    {
        let entry = zip.by_name("handler").unwrap();
        assert_eq!(
            entry.unix_mode().map(|m| m & 0o777),
            Some(0o755),
            "handler must be executable in the zip"
        );
        assert_eq!(entry.size(), std::fs::metadata(binary).unwrap().len());
    }
    let mut host_json = String::new();
    zip.by_name("host.json")
        .unwrap()
        .read_to_string(&mut host_json)
        .unwrap();
    assert_eq!(
        host_json,
        std::fs::read_to_string(root().join("host.json")).unwrap()
    );

    // The directory, for `func start --script-root dist`.
    for relative in &expected {
        assert!(out.join(relative).is_file(), "dist/{relative} missing");
    }
    let mode = std::fs::metadata(out.join("handler"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let help = Command::new(out.join("handler"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success(), "the packaged binary runs");
}

#[test]
fn the_zip_is_reproducible() {
    let scratch = tempfile::tempdir().unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_handler"));
    let first = handler::package::assemble(root(), binary, &scratch.path().join("a")).unwrap();
    let second = handler::package::assemble(root(), binary, &scratch.path().join("b")).unwrap();
    assert_eq!(
        std::fs::read(first.zip).unwrap(),
        std::fs::read(second.zip).unwrap()
    );
}

#[test]
fn a_root_without_host_json_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_handler"));
    let error = handler::package::assemble(scratch.path(), binary, &scratch.path().join("dist"))
        .unwrap_err();
    assert!(error.to_string().contains("host.json"), "{error}");
}

#[test]
fn data_kept_inside_an_old_package_is_never_deleted() {
    let scratch = tempfile::tempdir().unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_handler"));
    let out = scratch.path().join("dist");
    handler::package::assemble(root(), binary, &out).unwrap();
    // What the embedded backend leaves when func start runs the package with DATA_DIR inside.
    std::fs::create_dir_all(out.join(".data")).unwrap();
    std::fs::write(out.join(".data/tables.sqlite3"), b"someone's records").unwrap();
    let error = handler::package::assemble(root(), binary, &out).unwrap_err();
    assert!(error.to_string().contains(".data"), "{error}");
    assert_eq!(
        std::fs::read(out.join(".data/tables.sqlite3")).unwrap(),
        b"someone's records"
    );
}

#[test]
fn func_start_keeps_its_data_outside_the_package() {
    let settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("local.settings.json.example")).unwrap())
            .unwrap();
    // func start --script-root dist runs the handler in dist/: ../.data is the repository's.
    assert_eq!(settings["Values"]["DATA_DIR"], "../.data");
}
