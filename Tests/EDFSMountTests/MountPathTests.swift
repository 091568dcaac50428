@testable import EDFSMount
import Glibc
import Testing

/// Every path FUSE hands over is checked before it becomes a stored name.
@Suite("Mount paths and the namespace")
struct MountPathTests {
    private func name(_ path: String) -> String? { try? MountPath.storedName(path).get() }
    private func code(_ path: String) -> Int32? {
        if case let .failure(error) = MountPath.storedName(path) { return error.code }
        return nil
    }

    @Test("absolute UTF-8 paths become names without the leading slash; the root is the empty name")
    func accepted() {
        #expect(name("/") == "")
        #expect(name("/a.txt") == "a.txt")
        #expect(name("/sub dir/ünï cödé/ça va.md") == "sub dir/ünï cödé/ça va.md")
        #expect(name("/" + String(repeating: "x", count: 255)) != nil)
        #expect(MountPath.parent(of: "a/b/c") == "a/b" && MountPath.parent(of: "c") == "")
        #expect(MountPath.leaf(of: "a/b/c") == "c" && MountPath.leaf(of: "c") == "c")
    }

    @Test("relative, empty, dot and dot-dot components and control characters: EINVAL; too long: ENAMETOOLONG")
    func refused() {
        for path in ["", "a", "/a//b", "/a/", "/./a", "/a/..", "/../etc/passwd", "/a\nb", "/a\u{7F}", "/tab\there"] {
            #expect(code(path) == EINVAL, "\(path.debugDescription)")
        }
        #expect(code("/" + String(repeating: "x", count: 256)) == ENAMETOOLONG)
        let long = "/" + Array(repeating: String(repeating: "y", count: 200), count: 21).joined(separator: "/")
        #expect(code(long) == ENAMETOOLONG)
        // Bytes that are not UTF-8 never become a name.
        let invalid: [CChar] = [0x2F, CChar(bitPattern: 0xFF), 0x61, 0]
        let result = invalid.withUnsafeBufferPointer { MountPath.storedName($0.baseAddress) }
        #expect(result == .failure(.errno(EINVAL)))
    }

    @Test("folders derive from names; own changes survive a listing that started before them")
    func namespace() {
        let namespace = MountNamespace(refreshInterval: 10)
        let file = { (name: String) in MountEntry(name: name, isFolder: false, size: 1, modified: 0, mode: 0) }
        namespace.replace(with: [file("a/b/c.txt"), file("top.txt")], takenAt: namespace.generation, now: 0)
        #expect(namespace.lookUp("a") == .folder(nil) && namespace.lookUp("a/b") == .folder(nil))
        #expect(namespace.lookUp("a/b/c.txt") == .file(file("a/b/c.txt")))
        #expect(namespace.lookUp("a/b/c") == nil)
        #expect(Set((namespace.children(of: "") ?? [:]).keys.map(\.text)) == ["a", "top.txt"])
        #expect(namespace.children(of: "top.txt") == nil)
        #expect(!namespace.isStale(now: 5) && namespace.isStale(now: 10))

        let started = namespace.generation
        namespace.set("new.txt", file("new.txt"))
        namespace.set("top.txt", nil)
        // A listing that began before those changes does not show them; they are applied on top.
        namespace.replace(with: [file("a/b/c.txt"), file("top.txt"), file("other.txt")], takenAt: started, now: 20)
        #expect(namespace.lookUp("new.txt") != nil && namespace.lookUp("top.txt") == nil)
        #expect(namespace.lookUp("other.txt") != nil, "another client's file appears with the listing")

        namespace.addLocalFolder("made")
        #expect(namespace.lookUp("made") == .folder(nil) && namespace.children(of: "made")?.isEmpty == true)
        #expect(namespace.removeLocalFolder("made") && namespace.lookUp("made") == nil)
    }

    @Test("NFC and NFD spellings of a name are two entries, two children, two folders")
    func unicodeTwins() {
        let namespace = MountNamespace(refreshInterval: 10)
        let nfc = "caf\u{e9}", nfd = "cafe\u{301}"
        namespace.replace(with: [MountEntry(name: nfc, isFolder: false, size: 10, modified: 0, mode: 0),
                                 MountEntry(name: nfd, isFolder: false, size: 1000, modified: 0, mode: 0),
                                 MountEntry(name: "d/" + nfc + "/x", isFolder: false, size: 1, modified: 0, mode: 0),
                                 MountEntry(name: "d/" + nfd + "/y", isFolder: false, size: 2, modified: 0, mode: 0)],
                          takenAt: namespace.generation, now: 0)
        #expect(namespace.children(of: "")?.count == 3)
        #expect(namespace.children(of: "d")?.count == 2)
        guard case let .file(first)? = namespace.lookUp(nfc), case let .file(second)? = namespace.lookUp(nfd) else {
            Issue.record("both twins must be files")
            return
        }
        #expect(first.size == 10 && second.size == 1000)
        #expect(namespace.children(of: "d/" + nfc)?.keys.map(\.text) == ["x"])
        namespace.set(nfd, nil)
        #expect(namespace.lookUp(nfc) != nil, "removing one twin leaves the other")
    }
}
