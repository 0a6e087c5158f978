//! The `dv` command: parses arguments and hands them to the CLI layer.

mod cli;

/// mimalloc instead of the system allocator: a snapshot of 100,000 files makes a few hundred
/// thousand small allocations on all cores, where glibc's malloc spent a fifth of a `dv status`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    dv::process::disable_huge_pages();
    cli::main()
}
