import Foundation
import Testing

/// One HTTP answer read to the end of the connection.
struct HTTPAnswer {
    let status: Int
    let head: String
    let body: String
}

/// Sends `request` (raw bytes) to 127.0.0.1:`port` over plain TCP and reads until the server closes; nil when it
/// closed without a complete status line. Every wait is times `TestTime.scale`.
func httpExchange(port: Int, _ request: [UInt8], timeout: Duration = .seconds(10)) async throws -> HTTPAnswer? {
    let client = try await RawClient.connect(port: port, caFile: nil)
    defer { Task { await client.close() } }
    try? await client.send(request)
    let bytes = try await client.receiveAll(timeout: timeout)
    let text = String(decoding: bytes, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { return nil }
    let head = String(text[..<split.lowerBound])
    let statusField = head.split(separator: " ", maxSplits: 2).dropFirst().first
    guard head.hasPrefix("HTTP/1."), let status = statusField.flatMap({ Int($0) }) else { return nil }
    return HTTPAnswer(status: status, head: head, body: String(text[split.upperBound...]))
}

/// `GET path` with `Connection: close`.
func httpGet(port: Int, path: String = "/metrics") async throws -> HTTPAnswer? {
    try await httpExchange(port: port, Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
}

/// One sample of the Prometheus text format.
struct MetricSample {
    let name: String
    let labels: [String: String]
    let value: Double
}

/// The samples of an exposition text (comments skipped).
struct MetricSamples {
    let samples: [MetricSample]
    let text: String

    init(_ text: String) {
        self.text = text
        var samples: [MetricSample] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            let series = line[..<space]
            var labels: [String: String] = [:]
            let name: Substring
            if let open = series.firstIndex(of: "{"), series.hasSuffix("}") {
                name = series[..<open]
                let inside = series[series.index(after: open)..<series.index(before: series.endIndex)]
                for pair in inside.split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else { continue }
                    labels[String(parts[0])] = String(parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
                }
            } else {
                name = series
            }
            samples.append(MetricSample(name: String(name), labels: labels, value: value))
        }
        self.samples = samples
    }

    /// The value of the series `name` with (at least) `labels`; 0 when absent (a counter not incremented yet).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.first { sample in
            sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value }
        }?.value ?? 0
    }

    /// Whether a series named `name` is present at all.
    func has(_ name: String) -> Bool { samples.contains { $0.name == name } }
}

/// Scrapes `GET /metrics` on `port`, expecting a 200.
func scrape(port: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws -> MetricSamples {
    let answer = try #require(try await httpGet(port: port), sourceLocation: sourceLocation)
    #expect(answer.status == 200, "\(answer.head)", sourceLocation: sourceLocation)
    return MetricSamples(answer.body)
}
