//! `retouch`: the OpenAI-compatible image-edit server, gateway and command-line editor.

mod config;
mod edit;
mod serve;

use clap::{Parser, Subcommand};

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
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Edit(args) => edit::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
