import EDFSCrypto
import Testing
@testable import EDFSFormat

@Suite struct PlacementTests {
    // The seed report's two tables, copied verbatim (tab-separated as in the report). A cell lists the
    // 1-based chunk numbers that server holds for a file whose hash mod 4 is the row's number.
    static let pairTable = """
        hash mod\tDFS1\tDFS2\tDFS3\tDFS4
        0\t(1,2)\t(2,3)\t(3,4)\t(4,1)
        1\t(4,1)\t(1,2)\t(2,3)\t(3,4)
        2\t(3,4)\t(4,1)\t(1,2)\t(2,3)
        3\t(2,3)\t(3,4)\t(4,1)\t(1,2)
        """

    static let tripleTable = """
        hash mod\tDFS1\tDFS2\tDFS3\tDFS4
        0\t(1,2,3)\t(2,3,4)\t(3,4,1)\t(4,1,2)
        1\t(4,1,2)\t(1,2,3)\t(2,3,4)\t(3,4,1)
        2\t(3,4,1)\t(4,1,2)\t(1,2,3)\t(2,3,4)
        3\t(2,3,4)\t(3,4,1)\t(4,1,2)\t(1,2,3)
        """

    /// Parses a table into `cells[row][server]` = the chunk numbers in that cell, checking its shape.
    static func cells(of table: String, servers: Int, perCell: Int) throws -> [[[Int]]] {
        let lines = table.split(separator: "\n")
        try #require(lines.count == servers + 1)
        #expect(lines[0].split(separator: "\t") == ["hash mod"] + (1...servers).map { "DFS\($0)"[...] })
        var rows: [[[Int]]] = []
        for (rowNumber, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: "\t")
            try #require(fields.count == servers + 1)
            #expect(Int(fields[0]) == rowNumber)
            let row = try fields.dropFirst().map { field -> [Int] in
                try #require(field.hasPrefix("(") && field.hasSuffix(")"))
                let numbers = field.dropFirst().dropLast().split(separator: ",").compactMap { Int($0) }
                try #require(numbers.count == perCell)
                return numbers
            }
            rows.append(row)
        }
        return rows
    }

    @Test(arguments: [2, 3])
    func reproducesTheSeedTableCellForCell(replicas: Int) throws {
        let table = replicas == 2 ? Self.pairTable : Self.tripleTable
        let placement = try Placement(nodeCount: 4, replicas: replicas)
        let cells = try Self.cells(of: table, servers: 4, perCell: replicas)
        for row in 0..<4 {
            for server in 0..<4 {
                let held = try placement.stripes(onNode: server, row: row).map { $0 + 1 }
                #expect(Set(held) == Set(cells[row][server]), "row \(row), DFS\(server + 1)")
                #expect(held.count == replicas)
                // The forward function agrees: each chunk of the cell lists this server among its nodes.
                for chunk in cells[row][server] {
                    #expect(try placement.nodes(stripe: chunk - 1, row: row).contains(server))
                }
            }
        }
    }

    @Test func theSeedTablesListChunksInPlacementOrder() throws {
        // Beyond set equality: the report writes each cell starting from the chunk the server is primary for.
        for (table, replicas) in [(Self.pairTable, 2), (Self.tripleTable, 3)] {
            let placement = try Placement(nodeCount: 4, replicas: replicas)
            let cells = try Self.cells(of: table, servers: 4, perCell: replicas)
            for row in 0..<4 {
                for server in 0..<4 {
                    #expect(try placement.stripes(onNode: server, row: row).map { $0 + 1 } == cells[row][server])
                }
            }
        }
    }

    @Test func everyShapeSpreadsEvenlyOverDistinctNodes() throws {
        for nodeCount in 1...16 {
            for replicas in 1...nodeCount {
                let placement = try Placement(nodeCount: nodeCount, replicas: replicas)
                #expect(placement.stripeCount == nodeCount)
                for row in 0..<nodeCount {
                    var held = Array(repeating: 0, count: nodeCount)
                    var primaries = Set<Int>()
                    for stripe in 0..<nodeCount {
                        let nodes = try placement.nodes(stripe: stripe, row: row)
                        #expect(nodes.count == replicas)
                        #expect(Set(nodes).count == replicas, "N=\(nodeCount) R=\(replicas) h=\(row) c=\(stripe)")
                        #expect(nodes.allSatisfy { (0..<nodeCount).contains($0) })
                        #expect(nodes.first == (stripe + row) % nodeCount)
                        primaries.insert(nodes[0])
                        for node in nodes {
                            held[node] += 1
                            #expect(try placement.stripes(onNode: node, row: row).contains(stripe))
                        }
                    }
                    #expect(held == Array(repeating: replicas, count: nodeCount), "N=\(nodeCount) R=\(replicas) h=\(row)")
                    #expect(primaries.count == nodeCount)
                    for node in 0..<nodeCount {
                        let stripes = try placement.stripes(onNode: node, row: row)
                        #expect(Set(stripes).count == replicas)
                    }
                }
            }
        }
    }

    @Test func anyReplicasMinusOneNodesMayFail() throws {
        // With R replicas, every stripe survives the loss of any R−1 nodes (checked exhaustively for N ≤ 8).
        for nodeCount in 1...8 {
            for replicas in 1...nodeCount {
                let placement = try Placement(nodeCount: nodeCount, replicas: replicas)
                for lost in 0..<(1 << nodeCount) where lost.nonzeroBitCount == replicas - 1 {
                    for row in 0..<nodeCount {
                        for stripe in 0..<nodeCount {
                            let nodes = try placement.nodes(stripe: stripe, row: row)
                            #expect(nodes.contains { lost & (1 << $0) == 0 })
                        }
                    }
                }
            }
        }
    }

    @Test func rejectsInvalidArguments() throws {
        #expect(throws: PlacementError.badNodeCount(0)) { try Placement(nodeCount: 0, replicas: 1) }
        #expect(throws: PlacementError.badNodeCount(-3)) { try Placement(nodeCount: -3, replicas: 1) }
        #expect(throws: PlacementError.badReplicas(0, nodeCount: 4)) { try Placement(nodeCount: 4, replicas: 0) }
        #expect(throws: PlacementError.badReplicas(5, nodeCount: 4)) { try Placement(nodeCount: 4, replicas: 5) }
        let placement = try Placement(nodeCount: 4, replicas: 2)
        #expect(throws: PlacementError.badRow(4, nodeCount: 4)) { try placement.nodes(stripe: 0, row: 4) }
        #expect(throws: PlacementError.badRow(-1, nodeCount: 4)) { try placement.stripes(onNode: 0, row: -1) }
        #expect(throws: PlacementError.badStripe(4, stripeCount: 4)) { try placement.nodes(stripe: 4, row: 0) }
        #expect(throws: PlacementError.badStripe(-1, stripeCount: 4)) { try placement.nodes(stripe: -1, row: 0) }
        #expect(throws: PlacementError.badNode(7, nodeCount: 4)) { try placement.stripes(onNode: 7, row: 0) }
        let fileID = try FileID(bytes: Array(repeating: 0, count: 16))
        #expect(throws: PlacementError.badNodeCount(0)) { try Placement.row(for: fileID, nodeCount: 0) }
    }

    @Test func rowIsTheMD5DigestModN() throws {
        // MD5 of sixteen zero bytes is 4ae71336e44bf9bf79d2752e234818a5; as a number it is
        // 99562681977162996006182885104198097061; its residues below were computed independently (Python).
        let zero = try FileID(bytes: Array(repeating: 0, count: 16))
        #expect(Hex.encode(Digest.md5(zero.bytes)) == "4ae71336e44bf9bf79d2752e234818a5")
        #expect(try Placement.row(for: zero, nodeCount: 4) == 1)       // 0xa5 mod 4
        #expect(try Placement.row(for: zero, nodeCount: 1) == 0)
        #expect(try Placement.row(for: zero, nodeCount: 3) == 0)
        #expect(try Placement.row(for: zero, nodeCount: 7) == 0)
        #expect(try Placement.row(for: zero, nodeCount: 1000) == 61)
        #expect(try Placement.row(for: zero, nodeCount: Int.max) == 1_126_071_000_822_189_093)
        #expect(try Placement(nodeCount: 4, replicas: 2).row(for: zero) == 1)
        // Like the seed's int(hexdigest, 16) % 4: for powers of two the row is the digest's low bits.
        var generator = FormatTestRandom(seed: 1)
        for _ in 0..<200 {
            let id = try FileID(bytes: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let digest = Digest.md5(id.bytes)
            for shift in 0..<8 {
                #expect(try Placement.row(for: id, nodeCount: 1 << shift) == Int(digest[15]) & ((1 << shift) - 1))
            }
            for modulus in [3, 5, 7, 10, 16, 1000, 65_537, Int(UInt32.max), Int.max, Int.max - 24] {
                #expect(try Placement.row(for: id, nodeCount: modulus) == Self.reference(digest, modulus))
            }
        }
    }

    @Test func rowsSpreadOverEveryRow() throws {
        var generator = FormatTestRandom(seed: 42)
        let ids = try (0..<2000).map { _ in
            try FileID(bytes: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        for nodeCount in 1...16 {
            var hits = Array(repeating: 0, count: nodeCount)
            for id in ids { hits[try Placement.row(for: id, nodeCount: nodeCount)] += 1 }
            #expect(hits.allSatisfy { $0 > 0 }, "N=\(nodeCount): \(hits)")
            // Fair spread: no row gets more than twice its share (2000 ids, ≥ 125 per row expected).
            #expect(hits.allSatisfy { $0 < 2 * 2000 / nodeCount }, "N=\(nodeCount): \(hits)")
        }
    }

    /// The digest as a big-endian number mod `modulus`, one bit at a time (an independent method).
    static func reference(_ digest: [UInt8], _ modulus: Int) -> Int {
        let m = UInt64(modulus)
        var remainder: UInt64 = 0
        for byte in digest {
            for bit in (0..<8).reversed() {
                remainder = remainder * 2 + UInt64((byte >> UInt8(bit)) & 1)   // < 2m ≤ 2^64 − 2
                if remainder >= m { remainder -= m }
            }
        }
        return Int(remainder)
    }
}
