import Foundation

/// What an image site holds (spec: `protocols/dataset-schema.md`, "Images"): the size and
/// colour every image is brought to, the per-channel normalisation, and the class names,
/// which are the ImageFolder's sub-folder names.
public struct ImageSchema: Codable, Equatable, Sendable {
    /// Schema format version (1, shared with the tabular schema).
    public var version: Int
    /// How images are prepared for the model.
    public var image: Preparation
    /// Class names in class-index order; each is a sub-folder of an ImageFolder root. Nil:
    /// the sorted sub-folder names (every site must then hold every class).
    public var classes: [String]?

    /// Resize, colour and normalisation of every image.
    public struct Preparation: Codable, Equatable, Sendable {
        /// Height after resizing (bilinear).
        public var height: Int
        /// Width after resizing (bilinear).
        public var width: Int
        /// `grey` (1 channel) or `rgb` (3 channels); images of the other kind are converted.
        public var channels: Colour
        /// Per-channel mean subtracted from pixel values scaled to [0, 1]; nil: 0.
        public var mean: [Float]?
        /// Per-channel standard deviation divided by after the mean; nil: 1.
        public var std: [Float]?
        public init(height: Int, width: Int, channels: Colour, mean: [Float]? = nil, std: [Float]? = nil) {
            self.height = height; self.width = width; self.channels = channels; self.mean = mean; self.std = std
        }
    }

    /// The colour model images are converted to.
    public enum Colour: String, Codable, Sendable {
        case grey, rgb
        /// 1 for grey, 3 for RGB.
        public var count: Int { self == .grey ? 1 : 3 }
    }

    /// A schema with the given parts.
    public init(image: Preparation, classes: [String]? = nil) {
        self.version = DatasetSchema.currentVersion
        self.image = image
        self.classes = classes
    }

    /// Values per prepared sample: `height × width × channels` (channels-last).
    public var sampleWidth: Int { image.height * image.width * image.channels.count }

    /// The model input shape a prepared sample fits: `[height, width, channels]`.
    public var inputShape: [Int] { [image.height, image.width, image.channels.count] }

    /// Largest side after resizing.
    public static let maxSide = 4096

    /// Checks sizes, normalisation lengths and values, and class names; every problem is
    /// listed in one error.
    public func validate(source: String = "schema") throws {
        guard version == DatasetSchema.currentVersion else {
            throw DataError("\(source): schema version \(version) is not supported (this build reads version \(DatasetSchema.currentVersion))")
        }
        var problems: [String] = []
        let c = image.channels.count
        if !(1...Self.maxSide).contains(image.height) || !(1...Self.maxSide).contains(image.width) {
            problems.append("image size \(image.height)×\(image.width) must be 1…\(Self.maxSide) on each side")
        }
        if let mean = image.mean {
            if mean.count != c { problems.append("image.mean has \(mean.count) values for \(c) channel(s)") }
            if !mean.allSatisfy(\.isFinite) { problems.append("image.mean must be finite") }
        }
        if let std = image.std {
            if std.count != c { problems.append("image.std has \(std.count) values for \(c) channel(s)") }
            if !std.allSatisfy({ $0.isFinite && $0 > 0 }) { problems.append("image.std must be finite and positive") }
        }
        if let classes {
            if classes.isEmpty { problems.append("no classes") }
            if classes.count > 100_000 { problems.append("\(classes.count) classes, more than the limit of 100000") }
            else {
                if let dup = DatasetSchema.firstDuplicate(classes) { problems.append("class '\(DatasetSchema.short(dup))' is listed more than once") }
                for name in classes where !Self.isFolderName(name) {
                    problems.append("class '\(DatasetSchema.short(name))' cannot be a folder name (empty, '.', '..', a '/', a leading '.' or over 255 bytes)")
                }
            }
        }
        guard problems.isEmpty else { throw DataError("\(source): " + problems.joined(separator: "; ")) }
    }

    static func isFolderName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && !name.contains("/") && !name.contains("\0") && name.utf8.count <= 255
    }

    /// Decodes and validates image-schema JSON.
    public static func decode(_ data: Data, source: String) throws -> ImageSchema {
        let schema: ImageSchema
        do { schema = try JSONDecoder().decode(ImageSchema.self, from: data) } catch let error as DecodingError {
            throw DataError("\(source): not an image schema: \(DatasetSchema.describe(error))")
        } catch {
            throw DataError("\(source): not JSON: \(error)")
        }
        try schema.validate(source: source)
        return schema
    }

    /// The schema as pretty JSON with sorted keys.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// A schema file: tabular (`features` and `label`) or images (an `image` section).
public enum SchemaFile: Sendable {
    case table(DatasetSchema)
    case images(ImageSchema)

    /// Reads a schema file (at most 64 MiB), choosing the kind by the `image` key.
    public static func load(path: String) throws -> SchemaFile {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > 64 << 20 { throw DataError("\(path): \(size) bytes is too large for a schema (limit 64 MiB)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError("\(path): cannot read schema file") }
        struct Probe: Decodable { var image: AnyKey? }
        struct AnyKey: Decodable { init(from decoder: Decoder) throws {} }
        if let probe = try? JSONDecoder().decode(Probe.self, from: data), probe.image != nil {
            return .images(try ImageSchema.decode(data, source: path))
        }
        return .table(try DatasetSchema.decode(data, source: path))
    }
}
