import ArgumentParser
import EDFSClient
import EDFSMount
import Foundation

/// `edfs mount MOUNTPOINT [--read-only]`
struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Serve the stored files as a local folder (FUSE) until unmounted or interrupted (docs/MOUNT.md).",
        discussion: """
            A file written into the mount is stored when it is closed; a failed store makes close fail and keeps the \
            previous version. Unmount with fusermount3 -u MOUNTPOINT, or Ctrl-C.

            Examples:
              edfs mount /mnt/edfs
              edfs mount --read-only /mnt/edfs
            """)

    @OptionGroup var options: ClientOptions

    @Flag(help: "Refuse every change (EROFS).")
    var readOnly = false

    @Option(help: "Folder for files being written until their close commits them (default: $XDG_RUNTIME_DIR, else /tmp).")
    var spool: String?

    @Option(help: "Seconds a listing is trusted before the mount lists the store again.")
    var refresh: Double = 10

    @Option(help: "Memory for opened segments, in MiB (at most 64 segments).")
    var cacheMib: Int = 64

    @Flag(name: .customLong("fuse-debug"), help: "libfuse's request trace (requests, no data) on stderr.")
    var fuseDebug = false

    @Argument(help: "An existing empty folder to mount on.")
    var mountpoint: String

    func run() async throws {
        try await reportingFailures {
            guard refresh > 0, cacheMib > 0 else { throw ClientError.usage("--refresh and --cache-mib must be positive") }
            let path = URL(fileURLWithPath: mountpoint).standardizedFileURL.path
            var settings = MountOptions(mountpoint: path)
            settings.readOnly = readOnly
            settings.spoolFolder = spool
            settings.listingRefreshSeconds = refresh
            settings.cacheMiB = cacheMib
            settings.debug = fuseDebug
            let note = readOnly ? " (read-only)" : ""
            let chosen = settings
            try await withSession(options) { session in
                try await Mount.run(session: session, options: chosen,
                                    onMounted: { printError("mounted on \(path)\(note); "
                                                 + "fusermount3 -u \(path) or Ctrl-C to unmount") },
                                    log: { printError("mount: \($0)") })
                printError("unmounted \(path)")
            }
        }
    }
}
