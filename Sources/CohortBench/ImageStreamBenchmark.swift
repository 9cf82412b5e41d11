import CohortData
import CohortNN
import CohortTensor
import Foundation

/// `cohort bench images`: writes an ImageFolder of `count` small PNGs (10 classes, each a
/// distinct bar pattern with noise), then trains one epoch of a small CNN streaming the
/// images from disk batch by batch, and reports the throughput and the process's peak
/// resident memory (`VmHWM`), next to what the decoded images would take held in memory.
public enum ImageStreamBenchmark {
    public struct Report: Codable, Sendable {
        public var bench = "images"
        public var count: Int
        public var side: Int
        public var channels: Int
        public var batch: Int
        public var classes: Int
        public var bytesOnDisk: Int
        /// What `count` prepared float32 samples would take in memory.
        public var decodedBytesInMemory: Int
        public var writeSeconds: Double
        public var scanSeconds: Double
        public var trainSeconds: Double
        public var imagesPerSecond: Double
        public var trainLoss: Float
        public var trainAccuracy: Float
        /// Peak resident set of the whole process (VmHWM), bytes.
        public var peakResidentBytes: Int
        public var peakResidentMiB: Double
    }

    /// The pixels of image `index` of class `label`: a bar whose position and orientation
    /// name the class, plus seeded noise.
    static func pattern(label: Int, index: Int, side: Int, channels: Int) -> DecodedImage {
        var rng = SeededRandom(seed: UInt64(label * 1_000_003 + index))
        var pixels = [UInt8](repeating: 0, count: side * side * channels)
        let vertical = label % 2 == 0
        let position = (label / 2) * side / 5 + side / 10
        for y in 0..<side {
            for x in 0..<side {
                let onBar = abs((vertical ? x : y) - position) <= max(side / 14, 1)
                let base: Float = onBar ? 220 : 30
                let v = UInt8(max(0, min(255, base + Float(rng.int(below: 41)) - 20)))
                for c in 0..<channels { pixels[(y * side + x) * channels + c] = v }
            }
        }
        return DecodedImage(width: side, height: side, channels: channels, pixels: pixels)
    }

    /// Writes the folder under `directory` (which must exist), trains one epoch, and reports.
    public static func run(count: Int, side: Int, channels: Int, batch: Int, directory: String, seed: UInt64 = 0) throws -> Report {
        let classes = 10
        var t = BenchTiming.now()
        var bytes = 0
        for label in 0..<classes {
            let dir = directory + "/class\(label)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for i in stride(from: label, to: count, by: classes) {
                let png = try ImageEncoder.png(pattern(label: label, index: i, side: side, channels: channels))
                bytes += png.count
                guard FileManager.default.createFile(atPath: dir + "/\(i).png", contents: Data(png)) else {
                    throw DataError("\(dir)/\(i).png: cannot write")
                }
            }
        }
        let writeSeconds = BenchTiming.now() - t
        t = BenchTiming.now()
        let schema = ImageSchema(image: .init(height: side, width: side, channels: channels == 1 ? .grey : .rgb,
                                              mean: [Float](repeating: 0.5, count: channels), std: [Float](repeating: 0.25, count: channels)))
        let folder = try ImageFolder.scan(root: directory)
        let source = ImageBatchSource(folder: folder, indices: Array(0..<folder.count), preparer: ImagePreparer(schema.image))
        let scanSeconds = BenchTiming.now() - t
        let spec = ModelSpec(inputShape: [side, side, channels], layers: [
            LayerSpec(.conv2d, name: "conv1", units: 16, kernel: 3, padding: 1), LayerSpec(.relu, name: "relu1"),
            LayerSpec(.maxpool2d, name: "pool1", kernel: 2),
            LayerSpec(.conv2d, name: "conv2", units: 32, kernel: 3, padding: 1), LayerSpec(.relu, name: "relu2"),
            LayerSpec(.maxpool2d, name: "pool2", kernel: 2),
            LayerSpec(.flatten, name: "flatten"), LayerSpec(.dense, name: "fc", units: classes),
        ])
        let model = try Sequential(spec: spec, seed: seed)
        let optimizer = SGD(groups: [ParameterGroup(parameters: model.parameters, learningRate: 0.02, weightDecay: 0)], momentum: 0.9)
        let trainer = Trainer(model: model, optimizer: optimizer, config: TrainingConfig(epochs: 1, batchSize: batch, seed: seed))
        t = BenchTiming.now()
        let history = try trainer.fit(source: source)
        let trainSeconds = BenchTiming.now() - t
        let peak = ProcessMemory.peakResidentBytes()
        let epoch = history.epochs[0]
        return Report(count: folder.count, side: side, channels: channels, batch: batch, classes: classes, bytesOnDisk: bytes,
                      decodedBytesInMemory: folder.count * side * side * channels * 4,
                      writeSeconds: writeSeconds, scanSeconds: scanSeconds, trainSeconds: trainSeconds,
                      imagesPerSecond: Double(folder.count) / trainSeconds, trainLoss: epoch.trainLoss, trainAccuracy: epoch.trainAccuracy,
                      peakResidentBytes: peak, peakResidentMiB: Double(peak) / 1_048_576)
    }
}
