//! `retouch`: the OpenAI-compatible image-edit server, gateway and command-line editor.

mod config;
mod configs;
mod edit;
mod keys;
mod serve;
mod state;
mod usage;

use clap::{Parser, Subcommand};

/// The process allocator; see the dependency's note in Cargo.toml for why.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// OpenAI-compatible image edits: a content-aware fill engine, a provider gateway and hosted
/// results, in one binary.
#[derive(Debug, Parser)]
#[command(name = "retouch", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the OpenAI images API (`POST /v1/images/edits`) and the playground.
    Serve(serve::ServeArgs),
    /// Fill the transparent (or masked) area of an image from the rest of it.
    Edit(edit::EditArgs),
    /// Manage gateway keys (what callers send in `Authorization: Bearer rtk_…`).
    Keys(keys::KeysArgs),
    /// Manage virtual keys (provider keys stored encrypted, used by `x-portkey-virtual-key`).
    VirtualKeys(keys::VirtualKeysArgs),
    /// Manage saved configs (used by id in `x-portkey-config`).
    Configs(configs::ConfigsArgs),
    /// Check the server's TOML configuration file.
    Config(configs::ConfigArgs),
    /// What the gateway served: requests, images, failures, latency and bytes per key and model.
    Usage(usage::UsageArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Edit(args) => edit::run(args),
        Command::Keys(args) => keys::run_keys(args),
        Command::VirtualKeys(args) => keys::run_virtual_keys(args),
        Command::Configs(args) => configs::run_configs(args),
        Command::Usage(args) => usage::run_usage(args),
        Command::Config(args) => match configs::run_config(args) {
            Ok(true) => Ok(()),
            // The problems are printed already; only the exit status is left to give.
            Ok(false) => return std::process::ExitCode::FAILURE,
            Err(error) => Err(error),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
