//! The `nexo` binary: parse the configuration and run the server.

use nexo::config::{self, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    match config::parse(std::env::args().skip(1), |name| std::env::var(name).ok()) {
        Ok(Command::Help(text)) | Ok(Command::Version(text)) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Command::Run(config)) => match nexo::run(*config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("nexo: {error}");
                ExitCode::FAILURE
            }
        },
        Err(error) => {
            eprintln!("nexo: {error}");
            ExitCode::FAILURE
        }
    }
}
