//! `rasid`: the command-line interface to a Rasid ledger.
//!
//! The CLI is an administrator's tool with direct access to the database file: it opens the
//! ledger, runs one command through the same sequencer and journal a server uses, and prints the
//! result as text or, with `--json`, as one JSON document. Commands act as the organization
//! `--as` names, or else as the organization that would naturally act (the operator for platform
//! set-up, the registrar for registry records, the owner of the source account for movements);
//! the engine still checks that organization's role.

mod auction;
mod basket;
mod bench;
mod bench_compare;
mod bench_floor;
mod bench_http;
mod bench_matching;
mod cli;
mod demo;
mod demo_bots;
mod disk_probe;
mod exchange;
mod export;
mod export_columns;
mod import;
mod import_registry;
mod launch;
mod output;
mod registry;
mod serial_find;
mod serials;

use std::process::ExitCode;

/// mimalloc replaces the system allocator for the whole process. The HTTP request path allocates
/// and frees many small, short-lived buffers on every request (headers, bodies, futures, reply
/// bytes), and under load glibc's malloc and free took about 14% of the server's cycles; mimalloc's
/// thread-local free lists make those calls cheaper (measured in docs/HANDOFF.md, issue #5).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = <cli::Cli as clap::Parser>::parse();
    let json = args.json;
    match registry::run(args) {
        Ok(out) => {
            out.print(json);
            ExitCode::SUCCESS
        }
        Err(failure) => {
            failure.print(json);
            ExitCode::from(failure.exit_code())
        }
    }
}
