//! `hoist completion SHELL` and `hoist man`: generated from the clap definitions.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use super::Cli;

#[derive(clap::Args, Debug)]
pub struct CompletionArgs {
    shell: clap_complete::Shell,
}

pub fn completion(a: CompletionArgs) -> Result<i32> {
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "hoist", &mut out);
    std::io::stdout().write_all(&out)?;
    Ok(0)
}

pub fn man() -> Result<i32> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    std::io::stdout().write_all(&out)?;
    Ok(0)
}
