import Foundation
import MediaCatalog
import MediaFiles

/// Where the media root comes from: --media-root, else $MEDIALIB_MEDIA_ROOT (the caller
/// passes whichever was given), else the one recorded in medialib's state, else the
/// current folder.
public enum MediaRootChoice {
    public static func resolve(explicit: RawPath?, state: any StateStore) throws -> MediaRoot {
        if let explicit { return MediaRoot(explicit) }
        if let stored = try state.setting(SettingKey.mediaRoot) { return MediaRoot(RawPath(stored)) }
        return MediaRoot(FileSystem.currentDirectory)
    }
}

public enum RegistrationError: Error, Sendable, CustomStringConvertible {
    /// The argument names nothing usable (exit 2).
    case badArgument(String)
    /// The file is registered already (exit 3).
    case alreadyRegistered(String)

    public var description: String {
        switch self {
        case .badArgument(let m), .alreadyRegistered(let m): m
        }
    }
}

/// `add` and `import`: registering files in medialib's own catalog. A file is the same file
/// whatever its spelling (device and inode), paths are resolved the way the kernel resolves
/// them, and names are bytes.
public struct Registration {
    /// The one list of what counts as a video file.
    public static let videoExtensions: Set<String> = ["mp4", "m4v", "mov", "webm", "mkv"]

    let catalog: OpenCatalog
    let explicitRoot: RawPath?

    public init(catalog: OpenCatalog, explicitRoot: RawPath?) {
        self.catalog = catalog
        self.explicitRoot = explicitRoot
    }

    /// The root new paths are stored against. The first registration records it in the
    /// catalog, so later runs from another folder resolve the same files.
    public func mediaRoot(fallback: RawPath? = nil) throws -> MediaRoot {
        let recorded = try catalog.state.setting(SettingKey.mediaRoot)
        var root = try MediaRootChoice.resolve(explicit: explicitRoot, state: catalog.state)
        if explicitRoot == nil, recorded == nil, let fallback { root = MediaRoot(fallback) }
        if recorded == nil, let text = root.path.string { try catalog.state.setSetting(SettingKey.mediaRoot, text) }
        return root
    }

    public struct Added: Sendable {
        public var record: VideoRecord
        public var warnings: [String]
    }

    public func add(raw: RawPath?, processed: RawPath?, uuid: String?) throws -> Added {
        guard catalog.records.isOwned else {
            throw CatalogError.notOwned("\(catalog.records.identity.description) belongs to \(catalog.records.profile.name); medialib does not add records to it (the application does)")
        }
        let root = try mediaRoot()
        var warnings: [String] = []
        var files: [(RawPath, FileIdentity)] = []
        for given in [raw, processed].compactMap({ $0 }) {
            let (stored, identity) = try storedForm(of: given, root: root)
            if stored.isAbsolute {
                warnings.append("warning: \(stored.displayed) lies outside the media root \(root.path.displayed); it is stored absolute, and serve and verify refuse files outside the root (set --media-root)")
            }
            files.append((stored, identity))
        }
        if files.count == 2 && files[0].1.key == files[1].1.key {
            throw RegistrationError.badArgument("the raw and the processed file are the same file")
        }
        let known = try knownFiles(root: root)
        for (stored, identity) in files {
            if let (id, path) = known[identity.key] {
                let spelling = path == stored ? "" : " as \(path.displayed)"
                throw RegistrationError.alreadyRegistered("\(stored.displayed) is already registered as record \(id)\(spelling)")
            }
        }
        let rawStored = raw == nil ? nil : files.first?.0
        let processedStored = processed == nil ? nil : files.last?.0
        let record = try catalog.records.insert([NewRecord(rawFile: rawStored, processedFile: processedStored, uuid: uuid)])
        guard let first = record.first else { throw CatalogError.failed("the catalog inserted nothing") }
        return Added(record: first, warnings: warnings)
    }

    /// The stored form of a file named on the command line: resolved as the file system
    /// does, and required to be a regular file.
    func storedForm(of given: RawPath, root: MediaRoot) throws -> (RawPath, FileIdentity) {
        guard let physical = MediaRoot.physicalPath(of: given) else {
            throw RegistrationError.badArgument("no such file: \(given.displayed)")
        }
        switch FileSystem.status(physical) {
        case .failure(let e) where e.isNotFound: throw RegistrationError.badArgument("no such file: \(given.displayed)")
        case .failure(let e): throw RegistrationError.badArgument("cannot use \(given.displayed): \(e)")
        case .success(let st) where st.kind == .directory: throw RegistrationError.badArgument("\(given.displayed) is a directory, not a video file")
        case .success(let st) where st.kind != .regular: throw RegistrationError.badArgument("\(given.displayed) is not a regular file")
        case .success(let st): return (root.storedForm(ofPhysical: physical), st.identity)
        }
    }

    /// Every file the catalog names that exists, by identity: (record id, stored path).
    func knownFiles(root: MediaRoot) throws -> [FileIdentity.Key: (Int64, RawPath)] {
        var out: [FileIdentity.Key: (Int64, RawPath)] = [:]
        try catalog.records.forEachPage { page in
            for r in page {
                for f in r.files {
                    for p in [f.path] + (f.streamable.map { [$0] } ?? []) {
                        if case .success(let st) = FileSystem.status(root.resolve(p)), st.kind == .regular, out[st.identity.key] == nil {
                            out[st.identity.key] = (r.id, p)
                        }
                    }
                }
            }
        }
        return out
    }

    public enum ImportEvent: Sendable {
        case added(VideoRecord)
        /// A video file not registered, and why.
        case skipped(RawPath, String)
    }

    public struct ImportSummary: Sendable {
        public var added = 0
        public var known = 0
        public var skipped = 0
    }

    /// Registers every video file under `folder` the catalog does not know yet, in one
    /// transaction. Names every video file it does not register (beyond those already known).
    public func importFolder(_ folder: RawPath, report: (ImportEvent) throws -> Void) throws -> ImportSummary {
        guard catalog.records.isOwned else {
            throw CatalogError.notOwned("\(catalog.records.identity.description) belongs to \(catalog.records.profile.name); medialib does not add records to it (the application does)")
        }
        guard let physical = FileSystem.realPath(MediaRoot.physicalPath(of: folder) ?? folder), FileSystem.isDirectory(physical) else {
            throw RegistrationError.badArgument("\(folder.displayed) is not a folder")
        }
        let root = try mediaRoot(fallback: physical)
        let known = try knownFiles(root: root)
        var summary = ImportSummary()
        var fresh: [NewRecord] = []
        // Files this import adds, by identity: a second name of one (a hard link) is skipped.
        var adding: [FileIdentity.Key: RawPath] = [:]
        for candidate in Self.videoFiles(under: physical) {
            switch candidate {
            case .skipped(let path, let why):
                summary.skipped += 1
                try report(.skipped(root.storedForm(ofPhysical: path), why))
            case .file(let path, let identity):
                let stored = root.storedForm(ofPhysical: path)
                if let (id, existing) = known[identity.key] {
                    if existing == stored {
                        summary.known += 1
                    } else {
                        summary.skipped += 1
                        try report(.skipped(stored, "the same file is already registered as record \(id) (\(existing.displayed))"))
                    }
                    continue
                }
                if let first = adding[identity.key] {
                    summary.skipped += 1
                    try report(.skipped(stored, "the same file as \(first.displayed), which this import adds"))
                    continue
                }
                adding[identity.key] = stored
                fresh.append(NewRecord(rawFile: stored))
            }
        }
        // One transaction: an import is all or nothing, and fast for large folders.
        for record in try catalog.records.insert(fresh) {
            summary.added += 1
            try report(.added(record))
        }
        return summary
    }

    enum Candidate {
        case file(RawPath, FileIdentity)
        case skipped(RawPath, String)
    }

    /// Video files under `folder`, sorted by bytes so imports are repeatable. Symlinked
    /// folders are not followed; medialib's own trash and journal folders are skipped.
    static func videoFiles(under folder: RawPath) -> [Candidate] {
        var out: [Candidate] = []
        var pending = [folder]
        var visited = Set<FileIdentity.Key>()
        while let dir = pending.popLast() {
            if case .success(let st) = FileSystem.status(dir), !visited.insert(st.identity.key).inserted { continue }
            guard case .success(let entries) = FileSystem.entries(of: dir) else {
                out.append(.skipped(dir, "the folder cannot be read"))
                continue
            }
            if entries.contains(where: { $0.name.bytes == Array(Trash.marker.utf8) }) || dir.lastComponent == "medialib-journals" {
                continue
            }
            for e in entries {
                let path = dir.appending(e.name)
                var kind = e.kind
                if e.isUnknown || kind == .other || kind == .symlink {
                    if case .success(let lst) = FileSystem.status(path, followingSymlinks: false) { kind = lst.kind }
                }
                if kind == .directory { pending.append(path); continue }
                guard videoExtensions.contains(e.name.pathExtension) else { continue }
                switch FileSystem.status(path) {
                case .success(let st) where st.kind == .regular: out.append(.file(path, st.identity))
                case .success(let st) where st.kind == .directory: continue // a symlinked folder: not followed
                case .success: out.append(.skipped(path, "not a regular file"))
                case .failure(let err): out.append(.skipped(path, kind == .symlink ? "a dangling symlink" : err.description))
                }
            }
        }
        return out.sorted { a, b in
            func key(_ c: Candidate) -> RawPath { switch c { case .file(let p, _), .skipped(let p, _): p } }
            return key(a) < key(b)
        }
    }
}
