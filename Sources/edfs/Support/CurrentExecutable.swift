import ArgumentParser
import Dispatch
import EDFSClient
import EDFSCrypto
import EDFSDevTools
import Foundation
import Synchronization

/// The path of the running `edfs` binary, to start node processes from.
func currentExecutable() -> URL {
    if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        return URL(fileURLWithPath: resolved)
    }
    return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
}
