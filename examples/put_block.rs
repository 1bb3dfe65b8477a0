//! The baseline for the upload benchmark in `bench/run`: the same 100 MB file sent straight to
//! Blob storage (Azurite) with the same crate and block size the handler uses — a `put_block`
//! loop and one `put_block_list`, no HTTP server in between. Prints
//! `RESULT seconds=S hwm_kib=K` (VmHWM: this process's peak resident memory).
//!
//! ```sh
//! cargo run --release --example put_block -- "$AZURITE_CONNECTION_STRING" file.bin
//! ```

use std::{error::Error, time::Instant};

use azure_storage::{CloudLocation, ConnectionString};
use azure_storage_blobs::{
    blob::{BlobBlockType, BlockList},
    prelude::*,
};
use tokio::io::AsyncReadExt;

const BLOCK_BYTES: usize = 4 * 1024 * 1024;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(connection), Some(path)) = (args.next(), args.next()) else {
        return Err("usage: put_block <connection string> <file>".into());
    };
    let parsed = ConnectionString::new(&connection)?;
    let endpoint = parsed
        .blob_endpoint
        .ok_or("the connection string has no BlobEndpoint")?;
    let location = CloudLocation::Custom {
        account: parsed.account_name.ok_or("no AccountName")?.to_owned(),
        uri: endpoint.trim_end_matches('/').to_owned(),
    };
    let container = ClientBuilder::with_location(location, parsed.storage_credentials()?)
        .container_client("putblockbaseline");
    if let Err(error) = container.create().await {
        // Already there from an earlier run is fine; anything else is not.
        if !error.to_string().contains("409") {
            return Err(error.into());
        }
    }
    let blob = container.blob_client("baseline.bin");

    let started = Instant::now();
    let mut file = tokio::fs::File::open(&path).await?;
    let mut blocks = Vec::new();
    loop {
        let mut block = Vec::with_capacity(BLOCK_BYTES);
        while block.len() < BLOCK_BYTES {
            let read = (&mut file)
                .take((BLOCK_BYTES - block.len()) as u64)
                .read_to_end(&mut block)
                .await?;
            if read == 0 {
                break;
            }
        }
        if block.is_empty() {
            break;
        }
        let id = format!("block-{:08}", blocks.len());
        blob.put_block(id.clone(), block).await?;
        blocks.push(BlobBlockType::new_uncommitted(id));
    }
    blob.put_block_list(BlockList { blocks }).await?;
    let seconds = started.elapsed().as_secs_f64();

    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    println!("RESULT seconds={seconds:.3} hwm_kib={hwm_kib}");
    Ok(())
}
