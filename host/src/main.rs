use clap::Parser;
use std::process::ExitCode;
use tributary::cli::Cli;

fn main() -> ExitCode {
    // Before any thread exists (see `allocator`).
    let arenas = tributary::allocator::limit_arenas();
    let cli = Cli::parse();
    tributary::commands::init_logging(cli.verbose);
    tracing::debug!(?arenas, "malloc arenas");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(tributary::commands::run(cli));
    ExitCode::from(code)
}
