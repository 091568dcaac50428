import COpenSSL
import EDFSCrypto
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Serial vs parallel AES-256-GCM over one in-memory buffer, with the raw EVP ceilings measured in the same run.
///
/// Five measurements, repeated in interleaved rounds, each reported as the median:
/// (a) one thread calling EVP directly over the buffer in segments; (a′) `threads` threads calling EVP directly,
/// each over its own fixed slice; (b) serial sealing through `ParallelSegmentCipher` with one worker;
/// (c) parallel sealing with `threads` workers; (d) parallel opening with tag verification, after which the
/// plaintext is checked byte for byte. Memory: the plaintext buffer plus its ciphertext, nothing per segment.
public struct SealingBenchmark: Sendable {
    public struct Options: Sendable {
        public var totalBytes: Int
        public var segmentBytes: Int
        public var threads: Int
        public var repetitions: Int
        /// Segments handed to the parallel cipher per call, as a streaming pipeline would.
        public var segmentsPerBatch: Int

        public init(totalBytes: Int, segmentBytes: Int, threads: Int, repetitions: Int = 3, segmentsPerBatch: Int = 64) {
            self.totalBytes = totalBytes
            self.segmentBytes = segmentBytes
            self.threads = threads
            self.repetitions = repetitions
            self.segmentsPerBatch = segmentsPerBatch
        }
    }

    /// Medians in GB/s (10^9 bytes per second) and the ratios the issue asks for.
    public struct Result: Sendable, Codable {
        public var cores: Int
        public var threads: Int
        public var segmentBytes: Int
        public var totalBytes: Int
        public var repetitions: Int
        public var ceilingSerialGBps: Double
        public var ceilingParallelGBps: Double
        public var serialGBps: Double
        public var parallelGBps: Double
        public var parallelOpenGBps: Double
        /// (c) / (b)
        public var speedup: Double
        /// (b) / (a)
        public var serialEfficiency: Double
        /// (c) / (a′)
        public var parallelEfficiency: Double
        public var roundTripVerified: Bool
        /// Peak resident memory of the process after the run (VmHWM), where the OS reports it.
        public var peakRSSBytes: Int?
    }

    public let options: Options

    public init(options: Options) throws {
        guard options.totalBytes > 0 else { throw CryptoError.invalidParameter("benchmark size must be positive") }
        guard options.segmentBytes > 0, options.segmentBytes <= SegmentScheme.maximumSegmentSize else {
            throw CryptoError.invalidParameter("segment size must be 1…\(SegmentScheme.maximumSegmentSize) bytes")
        }
        guard options.threads >= 1, options.threads <= 256 else { throw CryptoError.invalidParameter("threads must be 1…256") }
        guard options.repetitions >= 1, options.repetitions <= 100 else {
            throw CryptoError.invalidParameter("repetitions must be 1…100")
        }
        guard options.segmentsPerBatch >= 1 else { throw CryptoError.invalidParameter("segments per batch must be positive") }
        self.options = options
    }

    /// Runs every measurement. Throws if the round trip does not reproduce the plaintext.
    public func run() throws -> Result {
        let total = options.totalBytes
        let segment = options.segmentBytes
        let scheme = try SegmentScheme(segmentSize: segment, noncePrefix: 7, aadPrefix: [UInt8](repeating: 0xA5, count: 44))
        let sealedTotal = scheme.sealedBatchLength(plaintextLength: total)
        let plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: total, alignment: 64)
        let sealed = UnsafeMutableRawBufferPointer.allocate(byteCount: sealedTotal, alignment: 64)
        defer {
            plaintext.deallocate()
            sealed.deallocate()
        }
        let seed: UInt64 = 0x5EED_ED75
        Self.fillPseudoRandom(plaintext, seed: seed)
        sealed.initializeMemory(as: UInt8.self, repeating: 0)
        let key = try SymmetricKey.generate()

        let serialCipher = try ParallelSegmentCipher(key: key, scheme: scheme, direction: .seal, workers: 1)
        let parallelCipher = try ParallelSegmentCipher(key: key, scheme: scheme, direction: .seal, workers: options.threads)
        let opener = try ParallelSegmentCipher(key: key, scheme: scheme, direction: .open, workers: options.threads)
        // Rounds of all five measurements, interleaved, so drift in a shared machine's speed hits each alike;
        // the median of each is reported.
        var samples = [[Double]](repeating: [], count: 5)
        for _ in 0..<options.repetitions {
            samples[0].append(try time { try Self.rawEVPSeal(key: key, input: UnsafeRawBufferPointer(plaintext),
                                                             output: sealed, segment: segment, threads: 1) })
            samples[1].append(try time { try runBatches(serialCipher, input: UnsafeRawBufferPointer(plaintext), output: sealed) })
            samples[2].append(try time { try Self.rawEVPSeal(key: key, input: UnsafeRawBufferPointer(plaintext),
                                                             output: sealed, segment: segment, threads: options.threads) })
            samples[3].append(try time { try runBatches(parallelCipher, input: UnsafeRawBufferPointer(plaintext), output: sealed) })
            plaintext.initializeMemory(as: UInt8.self, repeating: 0)  // the round trip must rebuild every byte
            samples[4].append(try time { try runBatches(opener, input: UnsafeRawBufferPointer(sealed), output: plaintext) })
        }
        let ceilingSerial = Self.median(samples[0])
        let serial = Self.median(samples[1])
        let ceilingParallel = Self.median(samples[2])
        let parallel = Self.median(samples[3])
        let openSeconds = samples[4]
        let verified = Self.matchesPseudoRandom(UnsafeRawBufferPointer(plaintext), seed: seed)
        guard verified else { throw CryptoError.invalidParameter("round trip did not reproduce the plaintext") }

        let gbps = { (seconds: Double) in Double(total) / seconds / 1e9 }
        let result = Result(
            cores: ProcessInfoCores.active, threads: options.threads, segmentBytes: segment, totalBytes: total,
            repetitions: options.repetitions,
            ceilingSerialGBps: gbps(ceilingSerial), ceilingParallelGBps: gbps(ceilingParallel),
            serialGBps: gbps(serial), parallelGBps: gbps(parallel), parallelOpenGBps: gbps(Self.median(openSeconds)),
            speedup: serial / parallel, serialEfficiency: ceilingSerial / serial,
            parallelEfficiency: ceilingParallel / parallel, roundTripVerified: verified,
            peakRSSBytes: Self.peakResidentBytes())
        return result
    }

    /// Seals or opens the whole buffer through `cipher`, `segmentsPerBatch` segments per call.
    private func runBatches(_ cipher: ParallelSegmentCipher, input: UnsafeRawBufferPointer,
                            output: UnsafeMutableRawBufferPointer) throws {
        let sealing = cipher.direction == .seal
        let plainBatch = options.segmentsPerBatch * options.segmentBytes
        let sealedBatch = options.segmentsPerBatch * (options.segmentBytes + AESGCM.tagByteCount)
        var inOffset = 0
        var outOffset = 0
        var segmentIndex: UInt64 = 0
        while inOffset < input.count {
            let inLength = Swift.min(sealing ? plainBatch : sealedBatch, input.count - inOffset)
            let ends = inOffset + inLength == input.count
            let outLength = sealing ? cipher.scheme.sealedBatchLength(plaintextLength: inLength)
                                    : (cipher.scheme.plaintextBatchLength(sealedLength: inLength) ?? 0)
            try cipher.process(SegmentBatch(
                firstSegmentIndex: segmentIndex, endsStream: ends,
                input: UnsafeRawBufferPointer(rebasing: input[inOffset..<(inOffset + inLength)]),
                output: UnsafeMutableRawBufferPointer(rebasing: output[outOffset..<(outOffset + outLength)])))
            inOffset += inLength
            outOffset += outLength
            segmentIndex += UInt64(options.segmentsPerBatch)
        }
    }

    /// The raw ceiling: EVP AES-256-GCM called directly, one context per thread, each thread over a fixed slice
    /// of whole segments (no AAD, counter nonces).
    static func rawEVPSeal(key: SymmetricKey, input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer,
                           segment: Int, threads: Int) throws {
        let segments = (input.count + segment - 1) / segment
        let perThread = (segments + threads - 1) / threads
        let slices = RawSlices(input: input, output: output)
        let failures = Atomic<Int>(0)
        let work: @Sendable (Int) -> Void = { thread in
            guard let cipher = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil), let ctx = EVP_CIPHER_CTX_new() else {
                failures.add(1, ordering: .relaxed)
                return
            }
            defer {
                EVP_CIPHER_CTX_free(ctx)
                EVP_CIPHER_free(cipher)
            }
            var ok = key.withUnsafeBytes { k in
                EVP_EncryptInit_ex(ctx, cipher, nil, k.baseAddress?.assumingMemoryBound(to: UInt8.self), nil)
            }
            var nonce = [UInt8](repeating: 0, count: 12)
            var tag = [UInt8](repeating: 0, count: 16)
            var written: Int32 = 0
            let first = thread * perThread
            let last = Swift.min(segments, first + perThread)
            guard first < last else { return }
            for s in first..<last {
                let inStart = s * segment
                let length = Swift.min(segment, slices.input.count - inStart)
                let outStart = s * (segment + 16)
                nonce.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(s).bigEndian, toByteOffset: 4, as: UInt64.self) }
                ok &= nonce.withUnsafeBytes { EVP_EncryptInit_ex(ctx, nil, nil, nil, $0.baseAddress?.assumingMemoryBound(to: UInt8.self)) }
                guard let inBase = slices.input.baseAddress, let outBase = slices.output.baseAddress else { break }
                ok &= EVP_EncryptUpdate(ctx, (outBase + outStart).assumingMemoryBound(to: UInt8.self), &written,
                                        (inBase + inStart).assumingMemoryBound(to: UInt8.self), Int32(length))
                ok &= tag.withUnsafeMutableBytes { t in
                    EVP_EncryptFinal_ex(ctx, t.baseAddress?.assumingMemoryBound(to: UInt8.self), &written)
                }
                ok &= tag.withUnsafeMutableBytes { edfs_evp_cipher_ctx_get_tag(ctx, 16, $0.baseAddress) }
                (outBase + outStart + length).copyMemory(from: tag, byteCount: 16)
            }
            if ok != 1 { failures.add(1, ordering: .relaxed) }
        }
        if threads == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: threads, execute: work) }
        if failures.load(ordering: .relaxed) != 0 { throw CryptoError.openSSL(function: "raw EVP benchmark loop") }
    }

    private func time(_ body: () throws -> Void) throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// Deterministic filler (splitmix64), so the round trip can be checked without a third buffer.
    static func fillPseudoRandom(_ buffer: UnsafeMutableRawBufferPointer, seed: UInt64) {
        var generator = SplitMix64(state: seed)
        var offset = 0
        while offset + 8 <= buffer.count {
            buffer.storeBytes(of: generator.next(), toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        var last = generator.next()
        while offset < buffer.count {
            buffer[offset] = UInt8(truncatingIfNeeded: last)
            last >>= 8
            offset += 1
        }
    }

    static func matchesPseudoRandom(_ buffer: UnsafeRawBufferPointer, seed: UInt64) -> Bool {
        var generator = SplitMix64(state: seed)
        var offset = 0
        while offset + 8 <= buffer.count {
            if buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != generator.next() { return false }
            offset += 8
        }
        var last = generator.next()
        while offset < buffer.count {
            if buffer[offset] != UInt8(truncatingIfNeeded: last) { return false }
            last >>= 8
            offset += 1
        }
        return true
    }

    /// VmHWM from /proc/self/status, in bytes.
    static func peakResidentBytes() -> Int? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("VmHWM:") {
                let digits = text.filter(\.isNumber)
                return Int(digits).map { $0 * 1024 }
            }
        }
        return nil
    }
}


/// The benchmark's two buffers, shared read-only (input) and written at disjoint per-thread slices (output).
/// `@unchecked Sendable` is sound: every thread writes only the output ranges of the segments in its own fixed
/// slice, nothing reads the output concurrently, and the buffers outlive `concurrentPerform`, which blocks.
private struct RawSlices: @unchecked Sendable {
    let input: UnsafeRawBufferPointer
    let output: UnsafeMutableRawBufferPointer
}
