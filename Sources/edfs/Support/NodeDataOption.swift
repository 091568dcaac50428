import ArgumentParser

/// `--data DIR`, shared by `edfs node` and `edfs node scrub`: declared once as an option group in both, the way
/// ArgumentParser hands a parent's option to its subcommand (two `--data` options would both go to the parent).
struct NodeDataOption: ParsableArguments {
    @Option(help: "The node's data directory. Required.")
    var data: String?
}
