import Foundation

/// Short display names for data files: the file name without its extension, or
/// `folder/name` when two files would otherwise share a name (as `hospital-1/train.ctf` and
/// `hospital-2/train.ctf` do).
enum SiteNames {
    static func short(_ paths: [String]) -> [String] {
        let bare = paths.map { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension }
        guard Set(bare).count < bare.count else { return bare }
        return paths.map { path in
            let folder = ((path as NSString).deletingLastPathComponent as NSString).lastPathComponent
            let name = (((path as NSString).lastPathComponent) as NSString).deletingPathExtension
            return folder.isEmpty ? name : "\(folder)/\(name)"
        }
    }
}
