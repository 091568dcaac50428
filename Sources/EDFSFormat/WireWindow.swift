/// The payload of a WINDOW frame: a GET's credit increment.
public enum WireWindow {
    public static func encode(increment: UInt32) -> [UInt8] {
        var w = BigEndianWriter<WireError>(capacity: 4)
        w.u32(increment)
        return w.bytes
    }

    public static func decode(payload: [UInt8]) throws(WireError) -> UInt32 {
        var r = BigEndianReader<WireError>(payload, context: "WINDOW")
        let increment = try r.u32()
        try r.expectEnd()
        guard increment > 0 else { throw WireError(.malformed, "WINDOW increment must be at least 1", fatal: true) }
        return increment
    }
}
