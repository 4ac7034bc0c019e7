/// Named points in cleanup and restore where a crash or a failure is most interesting. The
/// jobs call `reach` at each; production passes `Faults.none`. Tests own the seam: they
/// inject a closure, or (for a real process) the CLI builds one from MEDIALIB_FAULT.
public enum FaultPoint: String, Sendable, CaseIterable {
    /// The journal file exists with its header, nothing else.
    case journalOpened = "journal-opened"
    /// One journal line is about to be written (an injected ENOSPC fails it).
    case journalWrite = "journal-write"
    /// Inside the transaction: every change made and journaled, the journal fsynced; the commit is next.
    case beforeCommit = "before-commit"
    /// Committed; no file moved yet.
    case afterCommit = "after-commit"
    /// A file is linked into the trash and not yet unlinked from its place.
    case afterLink = "after-link"
    /// A file copied into the trash (across file systems) and not yet removed from its place.
    case afterCopy = "after-copy"
    /// One file moved into the trash.
    case afterMove = "after-move"
    /// restore: one file moved back from the trash.
    case restoreAfterMoveBack = "restore-after-move-back"
    /// restore: every file back, the rows not yet.
    case restoreBeforeRows = "restore-before-rows"
}

public struct Faults: Sendable {
    public let reach: @Sendable (FaultPoint) throws -> Void

    public init(_ reach: @escaping @Sendable (FaultPoint) throws -> Void) { self.reach = reach }

    public static let none = Faults { _ in }
}

/// An injected failure (a full disk, say) at a fault point.
public struct InjectedFault: Error, CustomStringConvertible {
    public var point: FaultPoint
    public var errno: Int32
    public init(point: FaultPoint, errno: Int32) {
        self.point = point
        self.errno = errno
    }
    public var description: String { "\(SystemErrorText.describe(errno)) (injected at \(point.rawValue))" }
}

import MediaFiles

enum SystemErrorText {
    static func describe(_ code: Int32) -> String { SystemError(code).description }
}
