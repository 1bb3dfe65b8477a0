//! The `handler` binary: serve (what the Functions host runs) or `package` (what CI runs).

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use handler::{config::Config, package, storage::wiring::Backend};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(version, about = "Azure Functions custom handler")]
struct Cli {
    /// Port to listen on when the host does not set FUNCTIONS_CUSTOMHANDLER_PORT [default: $PORT or 7071]
    #[arg(long)]
    port: Option<u16>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Build the release binary and assemble dist/ and dist.zip for deployment.
    Package {
        /// Target triple to build for, e.g. x86_64-unknown-linux-musl [default: the host's]
        #[arg(long)]
        target: Option<String>,
        /// Output directory; the zip is written next to it as <out>.zip
        #[arg(long, default_value = "dist")]
        out: PathBuf,
        /// Repository root holding host.json and functions/
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Package this executable instead of building one
        #[arg(long)]
        binary: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Package {
            target,
            out,
            root,
            binary,
        }) => run_package(target.as_deref(), &out, &root, binary),
        None => serve(cli.port),
    }
}

fn serve(cli_port: Option<u16>) -> ExitCode {
    bound_malloc();
    let config = match Config::from_env(cli_port) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    // An unusable DATA_DIR is a configuration error like any other: say so and stop, rather
    // than answer every request with 503 for ever.
    if let Backend::Embedded { data_dir } = &config.storage.backend {
        if let Err(error) = usable_dir(data_dir) {
            eprintln!(
                "configuration error: DATA_DIR={} cannot hold the embedded backend's data: {error}",
                data_dir.display()
            );
            return ExitCode::from(2);
        }
    }
    let _log_guard = handler::logging::init(config.log_format, &config.log_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        // Loopback only: the host calls 127.0.0.1, and nothing else should reach the handler.
        let address = SocketAddr::from(([127, 0, 0, 1], config.port));
        let listener = match TcpListener::bind(address).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(%address, %error, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        // One line that says what this instance is: where its data is, where TfL is, whether
        // an app key is set (never its value), which version, which port.
        tracing::info!(
            %address,
            version = env!("CARGO_PKG_VERSION"),
            storage = %config.storage.backend.describe(),
            tfl_api_base = %config.tfl.base_url,
            tfl_app_key = if config.tfl.app_key.is_some() { "set" } else { "not set" },
            "listening"
        );
        let state = match handler::state::AppState::new(&config) {
            Ok(state) => state,
            Err(error) => {
                tracing::error!(%error, "cannot build the app's clients");
                return ExitCode::FAILURE;
            }
        };
        // Open storage now, in the background: `/` must answer before it is ready, and the
        // first request that needs storage should not pay for creating tables.
        let warm = state.storage.clone();
        let storage = config.storage.backend.describe();
        tokio::spawn(async move {
            if let Err(error) = warm.get().await {
                tracing::warn!(
                    %storage,
                    %error,
                    "storage is not ready yet; requests will retry (nothing listening? start \
                     Azurite, or check the connection string)"
                );
            }
        });
        let app = handler::app(state);
        match handler::server::serve(
            listener,
            app,
            config.server,
            handler::server::shutdown_signal(),
            config.shutdown_timeout,
        )
        .await
        {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(error) => {
                tracing::error!(%error, "server failed");
                ExitCode::FAILURE
            }
        }
    })
}

/// Creates `dir` if needed and proves a file can be written in it.
fn usable_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(".write-probe");
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(probe)
}

fn run_package(
    target: Option<&str>,
    out: &std::path::Path,
    root: &std::path::Path,
    binary: Option<PathBuf>,
) -> ExitCode {
    let result = binary
        .map_or_else(|| package::build(root, target), Ok)
        .and_then(|binary| package::assemble(root, &binary, out));
    match result {
        Ok(package) => {
            println!(
                "wrote {} and {} (functions: {}; handler: {} bytes)",
                package.dir.display(),
                package.zip.display(),
                package.functions.join(", "),
                package.binary_bytes
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("package failed: {error}");
            ExitCode::FAILURE
        }
    }
}

/// glibc's malloc, made to give memory back (issue 14; bench/memory.py measures it, and the
/// commit that added this compares it with jemalloc and mimalloc). By default glibc raises its
/// mmap threshold to the largest block freed so far, so after the first argon2 hash (19 MiB) or
/// upload block (4 MiB) those live in arenas that are never trimmed (20 concurrent logins took
/// RSS from 12 to 73–93 MB, and it stayed there), keeps up to 8 arenas per core, and trims only
/// the top of each heap. Here: fixed thresholds (every block of 128 KiB or more is mmapped and
/// unmapped when freed), one arena per core, and `malloc_trim` once a second, which also
/// returns free pages inside the heaps (what is left after a burst of connections closes).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn bound_malloc() {
    const THRESHOLD: i32 = 128 * 1024;
    let arenas = std::thread::available_parallelism().map_or(1, usize::from);
    // SAFETY: mallopt only sets malloc's tuning parameters; it is called before the runtime
    // starts, and a refused setting (return value 0) leaves glibc's default in place.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, i32::try_from(arenas).unwrap_or(2));
        libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, THRESHOLD);
    }
    let trimmer = std::thread::Builder::new()
        .name("malloc-trim".into())
        .stack_size(64 * 1024)
        .spawn(|| loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            // SAFETY: malloc_trim takes malloc's own locks; it is safe from any thread.
            unsafe { libc::malloc_trim(0) };
        });
    if let Err(error) = trimmer {
        eprintln!("cannot start the malloc-trim thread (memory is returned less often): {error}");
    }
}

/// Elsewhere nothing is tuned: these are glibc's calls. musl's malloc (the deployed static
/// build) unmaps freed memory itself; it is not what bench/memory.py measures.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bound_malloc() {}
