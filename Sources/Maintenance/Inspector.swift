import MediaCatalog
import MediaProbe

/// Walks the catalog, probing each record's files in parallel, in bounded batches.
public struct CleanupInspector: Sendable {
    public var mediaRoot: MediaRoot
    public var minFrames: Int
    public var workers: Int
    public var batchSize = 256

    public init(mediaRoot: MediaRoot, minFrames: Int, workers: Int) {
        self.mediaRoot = mediaRoot
        self.minFrames = minFrames
        self.workers = workers
    }

    /// Calls `visit` for each record, in id order.
    public func inspect(_ catalog: any Catalog, visit: (RecordVerdict) throws -> Void) throws {
        let pool = WorkerPool(workers: workers)
        let prober = Prober(options: ProbeOptions(counting: .whenNeeded))
        let root = mediaRoot
        let min = minFrames
        try catalog.forEachBatch(of: batchSize) { batch in
            let verdicts = pool.map(batch) { record in
                let files = record.files.map { kind, stored in
                    let resolved = root.resolve(stored)
                    return FileFinding(kind: kind, storedPath: stored, resolvedPath: resolved,
                                       outcome: prober.probe(path: resolved))
                }
                return CleanupPlanner.judge(record, files: files, minFrames: min)
            }
            for v in verdicts { try visit(v) }
        }
    }
}
