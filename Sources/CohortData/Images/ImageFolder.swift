import CohortTensor
import Foundation

/// The ImageFolder layout: `root/<class name>/<image>.png|.jpg|.jpeg`. Only the file list is
/// held; images are decoded when a batch asks for them (`ImageBatchSource`).
public struct ImageFolder: Sendable {
    /// The folder scanned.
    public let root: String
    /// Class names in class-index order.
    public let classNames: [String]
    /// Image files, sorted by class then name.
    public let files: [String]
    /// Class index of each file.
    public let labels: [Int]

    /// File extensions read as images (compared lower-cased).
    public static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    /// Scans `root`. Class folders are the sub-folders not starting with `.`; with `classes`
    /// given they must be exactly those names (in that index order), else the sorted folder
    /// names are the classes. Hidden files and files of other extensions are skipped. Every
    /// problem (missing or unexpected class folders, classes without images, unreadable
    /// files) is listed in one error.
    public static func scan(root: String, classes: [String]? = nil) throws -> ImageFolder {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError("\(root): not a folder (an image site is a folder of class folders)")
        }
        let entries: [String]
        do { entries = try fm.contentsOfDirectory(atPath: root) } catch { throw DataError("\(root): cannot list: \(error.localizedDescription)") }
        let folders = entries.filter { name in
            var dir: ObjCBool = false
            return !name.hasPrefix(".") && fm.fileExists(atPath: root + "/" + name, isDirectory: &dir) && dir.boolValue
        }.sorted()
        var problems: [String] = []
        let classNames: [String]
        if let classes {
            let present = Set(folders)
            let missing = classes.filter { !present.contains($0) }
            let unexpected = Set(classes).symmetricDifference(present).filter { present.contains($0) }.sorted()
            if !missing.isEmpty { problems.append("no folder for class(es) \(list(missing))") }
            if !unexpected.isEmpty { problems.append("folder(s) \(list(unexpected)) not among the schema's classes") }
            classNames = classes
        } else {
            if folders.isEmpty { throw DataError("\(root): no class folders (expected root/<class name>/*.png|*.jpg)") }
            classNames = folders
        }
        var files: [String] = [], labels: [Int] = []
        var empty: [String] = [], unreadable: [String] = []
        for (index, name) in classNames.enumerated() where folders.contains(name) {
            let dir = root + "/" + name
            let names: [String]
            do { names = try fm.contentsOfDirectory(atPath: dir) } catch { unreadable.append(dir); continue }
            let images = names.filter { !$0.hasPrefix(".") && extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            if images.isEmpty { empty.append(name) }
            for image in images {
                let path = dir + "/" + image
                if access(path, R_OK) != 0 { unreadable.append(path); continue }
                files.append(path)
                labels.append(index)
            }
        }
        if !empty.isEmpty { problems.append("class(es) without images: \(list(empty))") }
        if !unreadable.isEmpty { problems.append("\(unreadable.count) unreadable: \(list(unreadable))") }
        guard problems.isEmpty else { throw DataError("\(root): " + problems.joined(separator: "; ")) }
        return ImageFolder(root: root, classNames: classNames, files: files, labels: labels)
    }

    /// Names quoted, at most 10 and a count of the rest.
    static func list(_ names: [String]) -> String {
        let shown = names.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
        return names.count > 10 ? shown + ", … (\(names.count) in all)" : shown
    }

    /// Number of images.
    public var count: Int { files.count }

    /// A seeded, class-stratified split of the file indices (the rule of `SiteData.split`):
    /// `validationFraction` of each class (rounded) to validation, at least one when the
    /// fraction is positive and there are two or more images; both parts shuffled.
    public func split(validationFraction: Double, seed: UInt64) -> (train: [Int], validation: [Int]) {
        Self.stratifiedSplit(labels: labels, classes: classNames.count, validationFraction: validationFraction, seed: seed)
    }

    /// The seeded, class-stratified split of samples with `labels` (each in `0..<classes`)
    /// that `split(validationFraction:seed:)` and `SiteData.split` make: positions of the
    /// training and validation samples.
    public static func stratifiedSplit(labels: [Int], classes: Int, validationFraction: Double, seed: UInt64) -> (train: [Int], validation: [Int]) {
        var rng = SeededRandom(seed: seed)
        var byClass = [[Int]](repeating: [], count: classes)
        for (i, y) in labels.enumerated() where y >= 0 && y < classes { byClass[y].append(i) }
        var train: [Int] = [], validation: [Int] = []
        for var members in byClass {
            members.shuffle(using: &rng)
            let k = Int((Double(members.count) * validationFraction).rounded())
            validation += members[..<k]
            train += members[k...]
        }
        if validationFraction > 0 && validation.isEmpty && train.count >= 2 {
            validation.append(train.remove(at: rng.int(below: train.count)))
        }
        train.shuffle(using: &rng)
        validation.shuffle(using: &rng)
        return (train, validation)
    }
}
