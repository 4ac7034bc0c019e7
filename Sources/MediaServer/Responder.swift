import Foundation
import HTTPRanges
import MediaCatalog
import NIOHTTP1

/// Turns one request into a `Response`: routing, the catalog lookup, preconditions and ranges.
/// Holds no connection state, so every event loop shares one.
struct Responder: Sendable {
    let catalog: any Catalog
    let mediaRoot: MediaRoot
    let configuration: ServerConfiguration
    let log: @Sendable (String) -> Void

    static let mediaMethods = "GET, HEAD, OPTIONS"
    static let readMethods = "GET, HEAD"

    func respond(to head: HTTPRequestHead) -> Response {
        let route = Route.parse(target: head.uri)
        switch route {
        case .notFound:
            return .error(.notFound, "no such route: \(head.uri.prefix(200))")
        case .badRequest(let message):
            return .error(.badRequest, message)
        case .health:
            guard head.method == .GET || head.method == .HEAD else { return methodNotAllowed(Self.readMethods) }
            return health()
        case .videoList:
            guard head.method == .GET || head.method == .HEAD else { return methodNotAllowed(Self.readMethods) }
            return videoList()
        case .video(let key, let kind):
            switch head.method {
            case .GET, .HEAD: return video(key, kind, head)
            case .OPTIONS: return preflight(head)
            default: return methodNotAllowed(Self.mediaMethods)
            }
        }
    }

    func methodNotAllowed(_ allow: String) -> Response {
        var h = HTTPHeaders()
        h.add(name: "Allow", value: allow)
        return .error(.methodNotAllowed, "method not allowed; use \(allow)", headers: h)
    }

    // MARK: routes

    func health() -> Response {
        do {
            let count = try catalog.recordCount()
            return .json(.ok, "{\"status\":\"ok\",\"records\":\(count)}")
        } catch {
            return .error(.serviceUnavailable, "catalog unavailable: \(error)")
        }
    }

    func videoList() -> Response {
        var items: [String] = []
        var page: [VideoRecord] = []
        do {
            // Pages of records share one cache query instead of one per file.
            func flush() throws {
                let paths = page.flatMap { r in FileKind.allCases.compactMap { r.path(for: $0).map(mediaRoot.resolve) } }
                let cache = (try? catalog.cachedVerifications(paths: paths, depth: "standard")) ?? [:]
                for r in page { items.append(listItem(r, cache)) }
                page.removeAll(keepingCapacity: true)
            }
            try catalog.forEachRecord { r in
                page.append(r)
                if page.count >= 500 { try flush() }
            }
            try flush()
        } catch {
            return .error(.serviceUnavailable, "catalog unavailable: \(error)")
        }
        return .json(.ok, "[" + items.joined(separator: ",") + "]")
    }

    func listItem(_ r: VideoRecord, _ cache: [String: VerificationCacheEntry]) -> String {
        var fields = ["\"id\":\(r.id)", "\"uuid\":\(JSON.string(r.uuid))"]
        for kind in FileKind.allCases {
            guard let stored = r.path(for: kind) else {
                fields.append("\"\(kind.rawValue)\":null")
                continue
            }
            let resolved = mediaRoot.resolve(stored)
            var st = stat()
            let exists = stat(resolved, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
            var frames = "null"
            if exists, let cached = cache[resolved], cached.size == Int64(st.st_size),
               let n = Self.frames(inCachedResult: cached.resultJSON) {
                frames = String(n)
            }
            fields.append("\"\(kind.rawValue)\":{\"path\":\(JSON.string(stored)),\"exists\":\(exists),\"size\":\(exists ? String(st.st_size) : "null"),\"frames\":\(frames)}")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// Frame counts come from verify's cache; the server never probes on a request.
    static func frames(inCachedResult json: String) -> Int? {
        // verify's compact line ("p1<TAB>frames<TAB>..."), or JSON with a "frames" key.
        if json.hasPrefix("p1\t") {
            return json.split(separator: "\t", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
        }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return nil }
        return obj["frames"] as? Int
    }

    func preflight(_ head: HTTPRequestHead) -> Response {
        var h = HTTPHeaders()
        h.add(name: "Allow", value: Self.mediaMethods)
        if let origin = head.headers.first(name: "Origin"), configuration.corsOrigins.contains(origin) {
            h.add(name: "Access-Control-Allow-Methods", value: Self.mediaMethods)
            let requested = head.headers.first(name: "Access-Control-Request-Headers") ?? ""
            h.add(name: "Access-Control-Allow-Headers",
                  value: requested.isEmpty ? "Range, If-Range, If-None-Match, If-Modified-Since" : requested)
            h.add(name: "Access-Control-Max-Age", value: "600")
        }
        return Response(status: .noContent, headers: h, body: .none)
    }

    func video(_ key: Route.VideoKey, _ kind: FileKind?, _ head: HTTPRequestHead) -> Response {
        let record: VideoRecord?
        do {
            switch key {
            case .id(let id): record = try catalog.record(id: id)
            case .uuid(let uuid): record = try catalog.record(uuid: uuid)
            }
        } catch {
            return .error(.serviceUnavailable, "catalog unavailable: \(error)")
        }
        guard let record else { return .error(.notFound, "no such record") }
        let chosen = kind ?? (record.path(for: .processed) != nil ? .processed : .raw)
        guard let stored = record.path(for: chosen) else {
            return .error(.notFound, "record \(record.id) has no \(chosen.rawValue) file")
        }
        switch OpenedFile.open(path: mediaRoot.resolve(stored), root: mediaRoot) {
        case .failure(.outsideRoot(let real)):
            log("warning: record \(record.id) names \(real), outside the media root; refused")
            return .error(.notFound, "file not found")
        case .failure(.missing), .failure(.notRegular):
            return .error(.notFound, "file not found")
        case .failure(.unreadable(let why)):
            log("warning: record \(record.id): cannot open \(stored): \(why)")
            return .error(.notFound, "file not found")
        case .success(let file):
            return serve(file, head)
        }
    }

    // MARK: RFC 9110 steps

    func serve(_ file: OpenedFile, _ head: HTTPRequestHead) -> Response {
        var h = HTTPHeaders()
        h.add(name: "ETag", value: file.etag.headerValue)
        h.add(name: "Last-Modified", value: HTTPDate.format(file.lastModified))
        let conditions = RequestConditions(
            method: head.method.rawValue,
            hasRange: head.headers.contains(name: "Range"),
            ifMatch: joined(head.headers, "If-Match"),
            ifNoneMatch: joined(head.headers, "If-None-Match"),
            ifModifiedSince: head.headers.first(name: "If-Modified-Since"),
            ifUnmodifiedSince: head.headers.first(name: "If-Unmodified-Since"),
            ifRange: head.headers.first(name: "If-Range"))
        let honourRange: Bool
        switch evaluateConditions(conditions, ResourceValidators(etag: file.etag, lastModified: file.lastModified)) {
        case .notModified:
            return unsent(file, Response(status: .notModified, headers: h, body: .none))
        case .preconditionFailed:
            return unsent(file, .error(.preconditionFailed, "precondition failed", headers: h))
        case .proceed(let honour):
            honourRange = honour
        }
        h.add(name: "Accept-Ranges", value: "bytes")
        h.add(name: "Content-Disposition", value: contentDisposition(filename: file.filename))
        let rangeField = honourRange ? joined(head.headers, "Range") : nil
        let request = evaluateRange(rangeField, size: file.size, limits: RangeLimits(maxRanges: configuration.maxRanges))
        // Random boundaries cost a getrandom call: only multipart answers need one.
        let boundary: String
        if case .ranges(let list) = request, list.count > 1 { boundary = makeBoundary() } else { boundary = "" }
        switch chooseRangeResponse(request, size: file.size, contentType: file.contentType, boundary: boundary) {
        case .full:
            h.add(name: "Content-Type", value: file.contentType)
            guard file.size > 0 else { return unsent(file, Response(status: .ok, headers: h, body: .none)) }
            return Response(status: .ok, headers: h, body: .file(file, ByteRange(first: 0, last: file.size - 1)))
        case .single(let range):
            h.add(name: "Content-Type", value: file.contentType)
            h.add(name: "Content-Range", value: contentRange(range, size: file.size))
            return Response(status: .partialContent, headers: h, body: .file(file, range))
        case .multipart(let multipart):
            h.add(name: "Content-Type", value: multipart.contentType)
            return Response(status: .partialContent, headers: h, body: .multipart(file, multipart))
        case .unsatisfiable:
            h.add(name: "Content-Range", value: unsatisfiedContentRange(size: file.size))
            return unsent(file, .error(.rangeNotSatisfiable, "range not satisfiable for \(file.size) bytes", headers: h))
        }
    }

    /// Several field lines of a list field are one comma-separated list (RFC 9110 §5.3).
    func joined(_ headers: HTTPHeaders, _ name: String) -> String? {
        let values = headers[name]
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    /// A response that sends none of the file it opened for its validators: the descriptor
    /// closes here, so only `.file` and `.multipart` bodies carry one to the connection.
    func unsent(_ file: OpenedFile, _ response: Response) -> Response {
        _ = close(file.descriptor)
        return response
    }
}
