/// Maps stored paths to real ones the way Django's MEDIA_ROOT does: relative paths resolve
/// against the root; files under the root are stored relative to it.
public struct MediaRoot: Sendable, Equatable {
    /// Absolute, standardized.
    public let path: RawPath
    /// The root with symlinks resolved, computed once: containment checks run per request.
    public let realRoot: RawPath?

    public init(_ path: RawPath, relativeTo base: RawPath = FileSystem.currentDirectory) {
        self.path = base.appending(path).standardized()
        realRoot = FileSystem.realPath(self.path)
    }

    public init(_ path: String) { self.init(RawPath(path)) }

    /// The absolute path a stored path stands for (lexically: `..` in a row is judged by the
    /// containment check on the real path, never trusted).
    public func resolve(_ stored: RawPath) -> RawPath {
        path.appending(stored).standardized()
    }

    /// How a file is stored: relative to the root when its physical location lies inside it,
    /// else absolute. `physical` must already have its folders resolved (see `physicalPath`).
    public func storedForm(ofPhysical given: RawPath) -> RawPath {
        let physical = given.standardized()
        if let real = realRoot, let rel = physical.relative(to: real) { return rel }
        if let rel = physical.relative(to: path) { return rel }
        return physical
    }

    public var exists: Bool { FileSystem.isDirectory(path) }

    public var isEmptyDirectory: Bool {
        guard case .success(let entries) = FileSystem.entries(of: path) else { return true }
        return entries.isEmpty
    }

    /// Whether a file's real path (symlinks resolved) lies inside the root's real path.
    public func containsRealPath(of absolute: RawPath) -> Bool {
        guard let file = FileSystem.realPath(absolute) else { return false }
        return containsRealPath(resolved: file)
    }

    /// Whether an already resolved real path lies inside the root's real path.
    public func containsRealPath(resolved file: RawPath) -> Bool {
        guard let root = realRoot ?? FileSystem.realPath(path) else { return false }
        return file.isInside(root) && file != root
    }

    /// Whether a file lies inside the root, given its folder's real path (resolved once per
    /// folder by the caller): only a symlinked file itself then needs a full realpath.
    public func contains(_ absolute: RawPath, realFolder: RawPath?) -> Bool {
        if case .success(let st) = FileSystem.status(absolute, followingSymlinks: false), st.kind == .symlink {
            return containsRealPath(of: absolute)
        }
        guard let folder = realFolder else { return containsRealPath(of: absolute) }
        return containsRealPath(resolved: folder.appending(absolute.lastComponent))
    }

    /// A path as the file system resolves it: `given` made absolute against `base` without
    /// lexical `..` removal, then its folder resolved by realpath (so `lnk/../x` follows the
    /// symlink `lnk` as the kernel does), the last component kept as written. Nil when the
    /// folder does not exist.
    public static func physicalPath(of given: RawPath, base: RawPath = FileSystem.currentDirectory) -> RawPath? {
        let absolute = base.appending(given)
        var name = absolute.lastComponent
        var folder = absolute.parent
        // A trailing slash or "." / ".." last component names a folder, not a file: resolve it whole.
        if name.isEmpty || name == "." || name == ".." {
            return FileSystem.realPath(absolute)
        }
        if folder.isEmpty { folder = "/" }
        guard let realFolder = FileSystem.realPath(folder) else { return nil }
        if name.bytes.last == RawPath.slash { name = RawPath(bytes: name.bytes.dropLast()) }
        return realFolder.appending(name)
    }
}
