//! `mycoin`: the command line of the book's scripts. Everything is in the library.

fn main() -> std::process::ExitCode {
    mycoin_cli::main()
}
