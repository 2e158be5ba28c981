fn main() -> std::process::ExitCode {
    disinfox_sync::run()
}
