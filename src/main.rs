fn main() {
    std::process::exit(haproxide::cli::main());
}
