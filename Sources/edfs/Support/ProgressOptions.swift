import ArgumentParser

/// `--quiet`, for the commands that show progress (put, get, check, repair, key rotate).
struct ProgressOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "No progress display and no summary line (with --json: no status lines).")
    var quiet = false
}
