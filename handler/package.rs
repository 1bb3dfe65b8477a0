//! `handler package`: builds the release binary and assembles the deployable app. The host only
//! discovers functions one folder below `host.json`, so the repository itself is not the app:
//! `dist/` holds `host.json`, `<function>/function.json` for each function and the `handler`
//! executable (mode 755), and `dist.zip` holds the same for zip deploy.

use std::{
    fs,
    io::{self, BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use thiserror::Error;
use zip::{write::SimpleFileOptions, CompressionMethod, DateTime, ZipWriter};

/// The executable name `host.json` points at (`customHandler.description.defaultExecutablePath`).
pub const EXECUTABLE: &str = "handler";

#[derive(Debug, Error)]
pub enum PackageError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{0} not found: run the command from the repository root or pass --root")]
    MissingHostJson(PathBuf),
    #[error("{path} is not valid JSON: {source}")]
    InvalidJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("no functions/<name>/function.json found under {0}")]
    NoFunctions(PathBuf),
    #[error(
        "{0} holds data the embedded backend kept under `func start` (DATA_DIR inside the \
         package): move it (e.g. to ./.data, where local.settings.json.example now points \
         DATA_DIR) or delete it, then package again"
    )]
    DataInside(PathBuf),
    #[error("cargo build failed ({0})")]
    Build(String),
    #[error("writing the zip failed: {0}")]
    Zip(#[from] zip::result::ZipError),
}

/// What [`assemble`] wrote.
#[derive(Debug)]
pub struct Package {
    pub dir: PathBuf,
    pub zip: PathBuf,
    pub functions: Vec<String>,
    pub binary_bytes: u64,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> PackageError + '_ {
    move |source| PackageError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Runs `cargo build --release` (for `target` when given) in `root` and returns the path of
/// the `handler` executable it produced.
pub fn build(root: &Path, target: Option<&str>) -> Result<PathBuf, PackageError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    // `cargo run -- package` hands its child the package's CARGO_MANIFEST_DIR, CARGO_PKG_*
    // and the like. Build scripts that track them (ring's does) would see a changed
    // environment and rebuild everything, twice over when the outer build runs again: the
    // inner build gets the environment a plain `cargo build` would, so it finds the release
    // binary up to date.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || matches!(
                name.as_ref(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
            )
        {
            command.env_remove(name.as_ref());
        }
    }
    command
        .current_dir(root)
        .args(["build", "--release", "--bin", EXECUTABLE])
        .args(["--message-format", "json-render-diagnostics"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(target) = target {
        command.args(["--target", target]);
    }
    let mut child = command
        .spawn()
        .map_err(|error| PackageError::Build(format!("cannot start cargo: {error}")))?;

    // Cargo reports each artifact as a JSON line; the executable's path is the reliable way to
    // find it whatever CARGO_TARGET_DIR or the target triple is.
    let mut executable = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(io_error(root))?;
            let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if message["reason"] == "compiler-artifact" && message["target"]["name"] == EXECUTABLE {
                if let Some(path) = message["executable"].as_str() {
                    executable = Some(PathBuf::from(path));
                }
            }
        }
    }
    let status = child.wait().map_err(io_error(root))?;
    if !status.success() {
        return Err(PackageError::Build(status.to_string()));
    }
    executable.ok_or_else(|| PackageError::Build("cargo reported no handler executable".into()))
}

/// Writes `out` (a directory, replaced if present) and `out` + `.zip` from `root`'s `host.json`
/// and `functions/*/function.json`, with `binary` as the executable. A `local.settings.json` in
/// `root` is copied into the directory (for `func start --script-root`) but never into the zip.
pub fn assemble(root: &Path, binary: &Path, out: &Path) -> Result<Package, PackageError> {
    let host_json = root.join("host.json");
    if !host_json.is_file() {
        return Err(PackageError::MissingHostJson(host_json));
    }
    let mut files: Vec<(String, PathBuf)> = vec![("host.json".into(), host_json)];
    let functions = function_definitions(root)?;
    for (name, path) in &functions {
        files.push((format!("{name}/function.json"), path.clone()));
    }
    for (_, path) in &files {
        let text = fs::read(path).map_err(io_error(path))?;
        serde_json::from_slice::<serde_json::Value>(&text).map_err(|source| {
            PackageError::InvalidJson {
                path: path.clone(),
                source,
            }
        })?;
    }

    if out.exists() {
        // Never delete someone's data along with an old package.
        let data = out.join(".data");
        if data.exists() {
            return Err(PackageError::DataInside(data));
        }
        fs::remove_dir_all(out).map_err(io_error(out))?;
    }
    for (relative, source) in &files {
        let target = out.join(relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        fs::copy(source, &target).map_err(io_error(&target))?;
    }
    let executable = out.join(EXECUTABLE);
    fs::copy(binary, &executable).map_err(io_error(binary))?;
    set_executable(&executable)?;
    let local_settings = root.join("local.settings.json");
    if local_settings.is_file() {
        let target = out.join("local.settings.json");
        fs::copy(&local_settings, &target).map_err(io_error(&target))?;
    }

    let zip_path = out.with_extension("zip");
    write_zip(&zip_path, &files, binary)?;
    let binary_bytes = fs::metadata(&executable)
        .map_err(io_error(&executable))?
        .len();
    Ok(Package {
        dir: out.to_owned(),
        zip: zip_path,
        functions: functions.into_iter().map(|(name, _)| name).collect(),
        binary_bytes,
    })
}

/// `(name, path)` of every `functions/<name>/function.json`, sorted by name.
pub fn function_definitions(root: &Path) -> Result<Vec<(String, PathBuf)>, PackageError> {
    let dir = root.join("functions");
    let mut found = Vec::new();
    for entry in fs::read_dir(&dir).map_err(io_error(&dir))? {
        let entry = entry.map_err(io_error(&dir))?;
        let definition = entry.path().join("function.json");
        if definition.is_file() {
            found.push((entry.file_name().to_string_lossy().into_owned(), definition));
        }
    }
    if found.is_empty() {
        return Err(PackageError::NoFunctions(dir));
    }
    found.sort();
    Ok(found)
}

fn write_zip(
    zip_path: &Path,
    files: &[(String, PathBuf)],
    binary: &Path,
) -> Result<(), PackageError> {
    let file = fs::File::create(zip_path).map_err(io_error(zip_path))?;
    let mut zip = ZipWriter::new(io::BufWriter::new(file));
    // A fixed timestamp makes the zip reproducible: the same inputs give the same bytes.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default());
    for (name, path) in files {
        zip.start_file(name.as_str(), options.unix_permissions(0o644))?;
        let bytes = fs::read(path).map_err(io_error(path))?;
        zip.write_all(&bytes).map_err(io_error(zip_path))?;
    }
    // The host execs this file: without the executable bit in the zip it cannot start.
    zip.start_file(EXECUTABLE, options.unix_permissions(0o755))?;
    let mut reader = fs::File::open(binary).map_err(io_error(binary))?;
    io::copy(&mut reader, &mut zip).map_err(io_error(zip_path))?;
    zip.finish()?.flush().map_err(io_error(zip_path))?;
    Ok(())
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<(), PackageError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(io_error(path))
}

#[cfg(not(unix))]
fn set_executable(_path: &Path) -> Result<(), PackageError> {
    Ok(())
}
