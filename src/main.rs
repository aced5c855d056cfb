//! `mcp-orchestrator`: everything is in the library's `cli` module.

fn main() -> std::process::ExitCode {
    mcp_orchestrator::cli::main()
}
