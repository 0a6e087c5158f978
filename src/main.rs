//! The `dv` command: parses arguments and hands them to the CLI layer.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
