//! The `hoist` binary: internal helper commands first (no async runtime may exist for
//! them: they fork and enter namespaces), then the CLI.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a.starts_with("__")) {
        std::process::exit(hoist::backend::builtin::runtime::hidden_main(&args[1..]));
    }
    std::process::exit(hoist::cli::main());
}
