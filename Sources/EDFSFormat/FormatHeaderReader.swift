extension BigEndianReader where Failure == FormatError {
    /// A reader over the first `byteCount` bytes of `bytes`, past the magic and format version every at-rest format
    /// starts with (docs/FORMAT.md): `truncated("<structure> header")`, `badMagic`, `unsupportedVersion` otherwise.
    static func formatHeader(prefixOf bytes: [UInt8], byteCount: Int, magic: [UInt8], version: UInt8,
                             structure: String) throws(FormatError) -> BigEndianReader<FormatError> {
        let context = "\(structure) header"
        guard bytes.count >= byteCount else { throw .truncated(context) }
        var reader = BigEndianReader(Array(bytes[0..<byteCount]), context: context)
        guard try reader.raw(magic.count) == magic else { throw .badMagic(structure) }
        let found = try reader.u8()
        guard found == version else { throw .unsupportedVersion(structure, found) }
        return reader
    }
}
