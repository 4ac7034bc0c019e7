#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MediaFiles

/// Checks that come before libavformat sees a path: a FIFO or a device would block its open,
/// and a missing or empty file deserves its own answer rather than libav's generic error.
public enum FileCheck {
    /// stat(2) through symlinks; the file must be a readable, non-empty regular file.
    public static func regularFile(at path: RawPath) -> Result<FileIdentity, ProbeError> {
        if path.containsNUL { return .failure(.missing) }
        switch FileSystem.status(path) {
        case .failure(let error):
            return .failure(error.isNotFound ? .missing : .unreadable(error.description))
        case .success(let st):
            if st.kind != .regular { return .failure(.notRegularFile) }
            if !FileSystem.access(path, R_OK) { return .failure(.unreadable(SystemError.current.description)) }
            if st.identity.size == 0 { return .failure(.empty) }
            return .success(st.identity)
        }
    }

    /// Like `regularFile` but also accepts empty files.
    public static func identity(at path: RawPath) -> FileIdentity? {
        if case .success(let st) = FileSystem.status(path) { return st.identity }
        return nil
    }
}
