/// A checked run of consecutive elements of one dense tensor record, handed out by
/// `DeltaStreamDecoder` while the rest of the record is still arriving (`feed(_:piecewise:pieces:_:)`),
/// so a receiver can fold a large record into a sum without ever holding it whole.
///
/// The pieces of a record come in element order, cover it exactly once and each is checked
/// (finite values; int8: the block scales it uses, no −128) before it is handed out. A record
/// that turns out bad further on has had its earlier pieces handed out already: a receiver
/// folding pieces must decide what they mean then (the coordinator's rule: protocols/wire.md,
/// Rounds, step 4). A piece points into the decoder's buffers: valid only during the callback.
public struct DeltaRecordPiece: @unchecked Sendable {
    let header: DeltaRecordHeader
    /// Elements of the record this piece carries.
    public let elements: Range<Int>
    /// The stored values of `elements` (float32, float16 or int8), the first at offset 0.
    let values: UnsafeRawPointer
    /// int8: the record's block scales, all of them (block b covers elements b·blockSize…).
    let scales: UnsafeRawPointer?

    init(header: DeltaRecordHeader, elements: Range<Int>, values: UnsafeRawPointer, scales: UnsafeRawPointer?) {
        precondition(header.layout == .dense && !elements.isEmpty && elements.upperBound <= header.elements,
                     "a piece is a non-empty run of a dense record's elements")
        self.header = header
        self.elements = elements
        self.values = values
        self.scales = scales
    }

    /// The tensor's name.
    public var name: String { header.name }
    /// Elements of the whole record (the tensor).
    public var recordElements: Int { header.elements }
    /// Whether this is the record's first piece (it starts at element 0).
    public var isFirst: Bool { elements.lowerBound == 0 }
    /// Whether this is the record's last piece (the record is complete with it).
    public var isLast: Bool { elements.upperBound == header.elements }
}
