import EDFSCrypto
import EDFSClient
import EDFSTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension BinaryCommandSuites {
/// `get -o` never replaces anything but a regular file (the binary runs as root in CI): devices and FIFOs are written
/// into, links and existing files need --force, a folder gets the file inside it. A recursive put that meets an
/// unreadable folder fails instead of skipping it.
@Suite("Local file safety", .serialized)
struct OutputSafetyTests {
    private func fileType(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : 0
    }

    @Test("get -o onto a FIFO, a device node, a symlink, an existing file and a folder")
    func outputTargets() async throws {
        let cluster = try await TestCluster.started()
        let content = try randomContent(200_000)
        #expect(try await cluster.run(["put", cluster.writeScratch("doc", content)]).status == 0)

        // A FIFO is written into, in order, and stays a FIFO.
        let fifo = cluster.scratch("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        let received = LockedBytes()
        let reader = Thread {
            if let handle = FileHandle(forReadingAtPath: fifo) { received.set(Array(handle.readDataToEndOfFile())) }
        }
        reader.start()
        let toFIFO = try await cluster.run(["get", "doc", "-o", fifo])
        #expect(toFIFO.status == 0, "\(toFIFO.stderr)")
        for _ in 0..<500 where received.get() == nil { try await Task.sleep(for: .milliseconds(10)) }
        #expect(received.get() == content)
        #expect(fileType(fifo) == S_IFIFO)

        // A character device made in the test folder (the null device's numbers): written into, never replaced.
        if getuid() == 0 {
            let device = cluster.scratch("null-device")
            #expect(mknod(device, S_IFCHR | 0o600, dev_t((1 << 8) | 3)) == 0)
            let toDevice = try await cluster.run(["get", "doc", "-o", device])
            #expect(toDevice.status == 0, "\(toDevice.stderr)")
            #expect(fileType(device) == S_IFCHR)
            let forced = try await cluster.run(["get", "doc", "-o", device, "--force"])
            #expect(forced.status == 0 && fileType(device) == S_IFCHR)
        }

        // An existing regular file needs --force.
        let existing = try cluster.writeScratch("existing", [1, 2, 3])
        let refused = try await cluster.run(["get", "doc", "-o", existing])
        #expect(refused.status == 64 && refused.stderr.contains("--force"), "\(refused.stderr)")
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: existing))) == [1, 2, 3])
        #expect(try await cluster.run(["get", "doc", "-o", existing, "--force"]).status == 0)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: existing))) == content)

        // A symbolic link is refused; with --force the file it points at is written, and the link stays a link.
        let target = try cluster.writeScratch("link-target", [9])
        let link = cluster.scratch("link")
        #expect(symlink(target, link) == 0)
        let viaLink = try await cluster.run(["get", "doc", "-o", link])
        #expect(viaLink.status == 64 && viaLink.stderr.contains("symbolic link"), "\(viaLink.stderr)")
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: target))) == [9])
        #expect(try await cluster.run(["get", "doc", "-o", link, "--force"]).status == 0)
        #expect(fileType(link) == S_IFLNK)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: target))) == content)

        // A folder, with or without the slash, gets the file inside it; a missing folder is an error.
        let folder = cluster.scratch("into")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        #expect(try await cluster.run(["get", "doc", "-o", folder]).status == 0)
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: folder + "/doc"))) == content)
        try FileManager.default.removeItem(atPath: folder + "/doc")
        #expect(try await cluster.run(["get", "doc", "-o", folder + "/"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: folder + "/doc"))
        #expect(try await cluster.run(["get", "doc", "-o", cluster.scratch("missing") + "/"]).status == 66)

        // A name with control characters is never stored (attack finding: it would become a local file name, or
        // garble a terminal); the refusal line does not carry the escape sequence either.
        let evil = "evil\nname\u{1b}[31m"
        let refusedPut = try await cluster.run(["put", cluster.writeScratch("evil-src", [7, 7]), "--as", evil])
        #expect(refusedPut.status == 64 && refusedPut.stderr.contains("control characters"), "\(refusedPut.stderr)")
        #expect(!refusedPut.stderr.contains("\u{1b}"), "the error line must not carry the escape sequence")
        // A name an older edfs stored with such characters still never becomes a local file name by default.
        #expect(throws: ClientError.self) { _ = try OutputTarget.localName(of: "old/evil\nname\u{1b}[31m") }
    }

    @Test("a recursive put that cannot read a folder fails and stores nothing")
    func unreadableFolder() async throws {
        let cluster = try await TestCluster.started()
        let tree = cluster.scratch("tree")
        try FileManager.default.createDirectory(atPath: tree + "/open", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: tree + "/closed", withIntermediateDirectories: true)
        _ = try cluster.writeScratch("tree/open/a", [1])
        _ = try cluster.writeScratch("tree/closed/b", [2])
        #expect(chmod(tree + "/closed", 0) == 0)
        defer { chmod(tree + "/closed", 0o700) }
        // Root reads any folder; without the two capabilities that allow it, it is refused like anyone else.
        let outcome = getuid() == 0
            ? try await EDFSBinary.run(["put", tree, "--config", cluster.clientConfigPath], environment:
                                       ["EDFS_PASSWORD": cluster.passwordText],
                                       launcher: ["/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search",
                                                  "--inh-caps=-dac_override,-dac_read_search", "--"])
            : try await cluster.run(["put", tree])
        #expect(outcome.status == 1, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("cannot read the folder"), "\(outcome.stderr)")
        let listing = try await cluster.run(["ls", "--json"])
        #expect(!listing.stdout.contains("tree/"), "\(listing.stdout)")
    }
}
}

/// Bytes handed from a reader thread to the test.
private final class LockedBytes: Sendable {
    private let value = PthreadMutex<[UInt8]?>(nil)
    func set(_ bytes: [UInt8]) { value.withLock { $0 = bytes } }
    func get() -> [UInt8]? { value.withLock { $0 } }
}
