import CFUSE
import Dispatch
import EDFSCrypto
import Glibc
import Synchronization

/// One libfuse3 mount, run on the calling thread from `fuse_new` to `fuse_destroy`: mount, serve with
/// `fuse_loop_mt` until the file system is unmounted, unmount, destroy. SIGINT, SIGTERM and SIGHUP end it cleanly:
/// a signal source (not an async signal handler) calls `fuse_exit` and detaches the mount, which ends the kernel
/// connection, so the worker threads stop and the loop returns; nothing stays mounted.
enum FUSESession {
    /// Serves `fileSystem` on `mountpoint`; returns when it is unmounted (0) or throws why it could not mount.
    static func serve(_ fileSystem: MountedFileSystem, mountpoint: String, readOnly: Bool, debug: Bool,
                      onMounted: () -> Void) throws {
        var options = "fsname=edfs,subtype=edfs,default_permissions"
        if readOnly { options += ",ro" }
        let arguments = ["edfs", "-o", options] + (debug ? ["-d"] : [])
        let strings = arguments.map { strdup($0) }
        defer { for string in strings { free(string) } }
        let argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
        defer { argv.deallocate() }
        for (index, string) in strings.enumerated() { argv[index] = string }
        argv[strings.count] = nil
        var args = fuse_args(argc: Int32(strings.count), argv: argv, allocated: 0)
        defer { fuse_opt_free_args(&args) }

        var operations = FUSEOperations.table()
        // Retained for the life of the mount: every callback borrows it through private_data.
        let retained = Unmanaged.passRetained(fileSystem)
        defer { retained.release() }
        guard let fuse = edfs_fuse_new(&args, &operations, retained.toOpaque()) else {
            throw MountFailure("libfuse refused the mount options")
        }
        defer { fuse_destroy(fuse) }
        guard fuse_mount(fuse, mountpoint) == 0 else {
            throw MountFailure("cannot mount on \(mountpoint) (it must be an existing folder, and /dev/fuse usable "
                               + "by this user)")
        }
        let stop = SignalStop(fuse: FUSEHandle(pointer: fuse), mountpoint: mountpoint)
        stop.install()
        onMounted()
        let result = edfs_fuse_loop_mt(fuse, 16, 4)
        stop.remove()
        fuse_unmount(fuse)
        if result != 0 && !stop.signalled {
            fileSystem.log("the FUSE loop ended with \(result)")
        }
    }
}

/// A `struct fuse *` handed to the signal queue. `@unchecked Sendable` is sound: the only call made through it off
/// the mount's thread is `fuse_exit`, which libfuse documents as callable from any thread (it sets a flag), and the
/// pointer stays valid until the mount's thread has removed the signal sources and waited for their queue.
struct FUSEHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// SIGINT/SIGTERM/SIGHUP while mounted: exit the loop and detach the mount (`umount2(MNT_DETACH)` as root,
/// `fusermount3 -u -z` otherwise).
final class SignalStop: Sendable {
    private let fuse: FUSEHandle
    private let mountpoint: String
    private let queue = DispatchQueue(label: "edfs.mount.signals")
    private let sources = PthreadMutex<[SignalSourceBox]>([])
    private let received = Atomic<Bool>(false)

    init(fuse: FUSEHandle, mountpoint: String) {
        self.fuse = fuse
        self.mountpoint = mountpoint
    }

    /// True once a signal asked for the unmount.
    var signalled: Bool { received.load(ordering: .sequentiallyConsistent) }

    func install() {
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [self] in stop() }
            source.resume()
            sources.withLock { $0.append(SignalSourceBox(source: source)) }
        }
    }

    /// Cancels the sources and waits until no handler runs.
    func remove() {
        for box in sources.withLock({ $0 }) { box.source.cancel() }
        queue.sync {}
    }

    private func stop() {
        guard !received.exchange(true, ordering: .sequentiallyConsistent) else { return }
        fuse_exit(fuse.pointer)
        if geteuid() == 0 {
            if umount2(mountpoint, Int32(MNT_DETACH)) == 0 { return }
        }
        var pid = pid_t()
        let arguments = ["fusermount3", "-u", "-z", mountpoint]
        let strings = arguments.map { strdup($0) }
        defer { for string in strings { free(string) } }
        var argv: [UnsafeMutablePointer<CChar>?] = strings + [nil]
        if posix_spawnp(&pid, "fusermount3", nil, nil, &argv, environ) == 0 {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}

/// A signal source kept alive while mounted. `@unchecked Sendable` is sound: it is only cancelled (thread-safe in
/// Dispatch) after being stored, never otherwise touched.
struct SignalSourceBox: @unchecked Sendable {
    let source: any DispatchSourceSignal
}

/// Why a mount could not start.
public struct MountFailure: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
