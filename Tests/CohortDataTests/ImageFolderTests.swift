import CohortData
import CohortNN
import CohortTensor
import Foundation
import XCTest

final class ImageFolderTests: XCTestCase {
    /// Class `label`'s pattern: a vertical bar, a horizontal bar or a diagonal, with noise.
    static func pattern(label: Int, index: Int, side: Int, channels: Int) -> DecodedImage {
        var state = UInt32(label * 1000 + index + 1)
        var pixels = [UInt8](repeating: 0, count: side * side * channels)
        for y in 0..<side { for x in 0..<side {
            state = state &* 1_664_525 &+ 1_013_904_223
            let on = label == 0 ? abs(x - side / 2) <= 1 : label == 1 ? abs(y - side / 2) <= 1 : abs(x - y) <= 1
            let v = UInt8((on ? 200 : 40) + Int(state >> 28))
            for c in 0..<channels { pixels[(y * side + x) * channels + c] = v }
        } }
        return DecodedImage(width: side, height: side, channels: channels, pixels: pixels)
    }

    /// `classes` × `perClass` images, PNG and JPEG alternating, sides 12 and 16 alternating.
    static func writeFolder(_ root: String, classes: [String] = ["bar", "cross", "diag"], perClass: Int = 10) throws {
        for (label, name) in classes.enumerated() {
            try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
            for i in 0..<perClass {
                let image = pattern(label: label, index: i, side: i % 2 == 0 ? 12 : 16, channels: 1)
                let bytes = i % 3 == 2 ? try ImageEncoder.jpeg(image, quality: 95) : try ImageEncoder.png(image)
                try Data(bytes).write(to: URL(fileURLWithPath: root + "/\(name)/img\(i).\(i % 3 == 2 ? "jpg" : "png")"))
            }
        }
    }

    func testScanFindsSortedClassesAndSkipsHiddenAndOtherFiles() throws {
        let root = temporaryDirectory()
        defer { removeDirectory(root) }
        try Self.writeFolder(root, classes: ["zeta", "alpha", "mid"], perClass: 4)
        try Data([1]).write(to: URL(fileURLWithPath: root + "/alpha/.hidden.png"))
        try Data([1]).write(to: URL(fileURLWithPath: root + "/alpha/notes.txt"))
        try FileManager.default.createDirectory(atPath: root + "/.cache", withIntermediateDirectories: true)
        let folder = try ImageFolder.scan(root: root)
        XCTAssertEqual(folder.classNames, ["alpha", "mid", "zeta"])
        XCTAssertEqual(folder.count, 12)
        XCTAssertEqual(folder.labels, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
        XCTAssertTrue(folder.files.allSatisfy { !$0.contains(".hidden") && !$0.hasSuffix(".txt") })
        // With classes from a schema the index order is the schema's.
        let ordered = try ImageFolder.scan(root: root, classes: ["zeta", "alpha", "mid"])
        XCTAssertEqual(ordered.labels, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
        XCTAssertTrue(ordered.files[0].contains("/zeta/") && ordered.files[4].contains("/alpha/"), "\(ordered.files)")
    }

    func testEveryFolderProblemIsListedInOneError() throws {
        let root = temporaryDirectory()
        defer { removeDirectory(root) }
        try Self.writeFolder(root, classes: ["a", "b"], perClass: 2)
        try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/extra", withIntermediateDirectories: true)
        let message = errorMessage { _ = try ImageFolder.scan(root: root, classes: ["a", "b", "empty", "missing"]) }
        XCTAssertTrue(message.contains("no folder for class(es) 'missing'"), message)
        XCTAssertTrue(message.contains("folder(s) 'extra' not among the schema's classes"), message)
        XCTAssertTrue(message.contains("class(es) without images: 'empty'"), message)
        XCTAssertTrue(errorMessage { _ = try ImageFolder.scan(root: root + "/nope") }.contains("not a folder"))
    }

    func testPreparerResizesBilinearlyAndNormalisesPerChannel() {
        // 4×4 RGB to 2×2: with pixel centres aligned, each output is the mean of a 2×2 block.
        var pixels = [UInt8](repeating: 0, count: 4 * 4 * 3)
        for i in pixels.indices { pixels[i] = UInt8((i * 37) % 251) }
        let image = DecodedImage(width: 4, height: 4, channels: 3, pixels: pixels)
        let mean: [Float] = [0.1, 0.2, 0.3], std: [Float] = [0.5, 0.25, 2]
        let preparer = ImagePreparer(.init(height: 2, width: 2, channels: .rgb, mean: mean, std: std))
        var out = [Float](repeating: 0, count: 12)
        out.withUnsafeMutableBufferPointer { preparer.prepare(image, into: $0) }
        for y in 0..<2 { for x in 0..<2 { for c in 0..<3 {
            var sum: Float = 0
            for dy in 0..<2 { for dx in 0..<2 { sum += Float(pixels[((2 * y + dy) * 4 + 2 * x + dx) * 3 + c]) } }
            let expected = (sum / 4 / 255 - mean[c]) / std[c]
            XCTAssertEqual(out[(y * 2 + x) * 3 + c], expected, accuracy: 1e-5, "\(y) \(x) \(c)")
        } } }
        // Same size: the pixels themselves.
        let same = ImagePreparer(.init(height: 4, width: 4, channels: .rgb))
        var copy = [Float](repeating: 0, count: 48)
        copy.withUnsafeMutableBufferPointer { same.prepare(image, into: $0) }
        XCTAssertEqual(copy, pixels.map { Float($0) / 255 })
    }

    func testBatchSourceDecodesTheRequestedImagesAndTrainsLikeInMemoryData() throws {
        let root = temporaryDirectory()
        defer { removeDirectory(root) }
        try Self.writeFolder(root)
        let schema = ImageSchema(image: .init(height: 8, width: 8, channels: .grey, mean: [0.3], std: [0.3]))
        let site = try ImageSite.open(root: root, schema: schema, validationFraction: 0.2, seed: 3)
        XCTAssertEqual(site.train.count + site.validation.count, 30)
        XCTAssertEqual(site.validation.labels.sorted(), [0, 0, 1, 1, 2, 2])
        let batch = try site.train.batch([4, 1])
        XCTAssertEqual(batch.inputs.shape, [2, 64])
        XCTAssertEqual(batch.labels, [site.train.labels[4], site.train.labels[1]])
        let image = try ImageDecoder.decode(path: site.folder.files[site.train.indices[1]], channels: 1)
        var expected = [Float](repeating: 0, count: 64)
        expected.withUnsafeMutableBufferPointer { ImagePreparer(schema.image).prepare(image, into: $0) }
        XCTAssertEqual(Array(batch.inputs.data[64..<128]), expected)

        // Streaming gives exactly the weights training on the decoded data in memory gives.
        let spec = ModelSpec(inputShape: [8, 8, 1], layers: [LayerSpec(.flatten, name: "flat"), LayerSpec(.dense, name: "fc", units: 3)])
        func train(_ body: (Trainer) throws -> TrainingHistory) throws -> (Sequential, TrainingHistory) {
            let model = try Sequential(spec: spec, seed: 1)
            let trainer = Trainer(model: model, optimizer: SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.1, weightDecay: 0)], momentum: 0.9),
                                  config: TrainingConfig(epochs: 3, batchSize: 5, seed: 9))
            return (model, try body(trainer))
        }
        let all = try site.train.all()
        let (streamed, h1) = try train { try $0.fit(source: site.train) }
        let (inMemory, h2) = try train { try $0.fit(all) }
        XCTAssertEqual(streamed.parameters.map(\.value.data), inMemory.parameters.map(\.value.data))
        XCTAssertEqual(h1.epochs.map(\.trainLoss), h2.epochs.map(\.trainLoss))
        XCTAssertGreaterThan(h1.epochs.last!.trainAccuracy, 0.9, "the three patterns are learnable")
    }

    func testACorruptImageInABatchIsAnErrorNamingIt() throws {
        let root = temporaryDirectory()
        defer { removeDirectory(root) }
        try Self.writeFolder(root, perClass: 2)
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0]).write(to: URL(fileURLWithPath: root + "/bar/broken.png"))
        let site = try ImageSite.open(root: root, schema: ImageSchema(image: .init(height: 4, width: 4, channels: .grey)), validationFraction: 0, seed: 0)
        let message = errorMessage { _ = try site.train.all() }
        XCTAssertTrue(message.hasPrefix(root + "/bar/broken.png: corrupt PNG"), message)
    }

    func testImageSchemaValidationListsEveryProblem() throws {
        let json = #"{"version":1,"image":{"height":0,"width":28,"channels":"rgb","mean":[0.5],"std":[1,0,1]},"classes":["a","a",".x"]}"#
        let message = errorMessage { _ = try ImageSchema.decode(Data(json.utf8), source: "s.json") }
        for part in ["image size 0×28", "image.mean has 1 values for 3 channel(s)", "image.std must be finite and positive",
                     "class 'a' is listed more than once", "class '.x' cannot be a folder name"] {
            XCTAssertTrue(message.contains(part), "\(part): \(message)")
        }
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        try Data(#"{"version":1,"image":{"height":8,"width":8,"channels":"grey"}}"#.utf8).write(to: URL(fileURLWithPath: dir + "/i.json"))
        guard case .images(let schema) = try SchemaFile.load(path: dir + "/i.json") else { return XCTFail("not read as an image schema") }
        XCTAssertEqual(schema.inputShape, [8, 8, 1])
    }
}
