import ArgumentParser

/// `[NAME…|--all]`: the stored files a command works on; every file when no name is given.
struct FileSelection: ParsableArguments {
    @Flag(help: "Every file (the default when no name is given).")
    var all = false

    @Argument(help: "Stored names (default: every file).")
    var names: [String] = []

    func validate() throws {
        if all, !names.isEmpty { throw ValidationError("give names or --all, not both") }
    }
}
