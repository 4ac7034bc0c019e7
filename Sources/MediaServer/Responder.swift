import Foundation
import HTTPRanges
import Maintenance
import MediaCatalog
import MediaFiles
import NIOCore
import NIOPosix

/// Turns one request into a response: routing, the record lookup, preconditions and ranges
/// (RFC 9110, in the order of its steps). Holds no connection state: every connection of a
/// server shares one, with its event loop's `LoopState`.
struct Responder: Sendable {
    let catalog: OpenCatalog
    let mediaRoot: MediaRoot
    let configuration: ServerConfiguration
    /// nil: off-loop work runs inline (EmbeddedChannel, for the request-path fuzzer).
    let threads: NIOThreadPool?
    let log: @Sendable (String) -> Void

    static let mediaMethods = "GET, HEAD, OPTIONS"
    static let readMethods = "GET, HEAD"

    func respond(to head: RequestHead, loop: LoopState, on eventLoop: any EventLoop) -> ResponseSource {
        if head.method == .connect { return .now(methodNotAllowed(Self.mediaMethods)) }
        switch Route.parse(target: head.target) {
        case .notFound:
            return .now(.error(404, "no such route"))
        case .badRequest(let message):
            return .now(.error(400, message))
        case .serverWide:
            guard head.method == .options else { return .now(.error(400, "* is a target for OPTIONS only")) }
            return .now(Response(status: 204, headers: [("Allow", Self.mediaMethods)]))
        case .page:
            guard head.method == .get || head.isHead else { return .now(methodNotAllowed(Self.readMethods)) }
            return .now(Page.index)
        case .asset(let name):
            guard head.method == .get || head.isHead else { return .now(methodNotAllowed(Self.readMethods)) }
            return .now(Page.asset(name) ?? .error(404, "no such asset"))
        case .health:
            guard head.method == .get || head.isHead else { return .now(methodNotAllowed(Self.readMethods)) }
            return offLoop(eventLoop) { health() }
        case .summary:
            guard head.method == .get || head.isHead else { return .now(methodNotAllowed(Self.readMethods)) }
            return offLoop(eventLoop) { Listing(responder: self).summary() }
        case .videoList(let query):
            guard head.method == .get || head.isHead else { return .now(methodNotAllowed(Self.readMethods)) }
            return offLoop(eventLoop) { Listing(responder: self).page(query) }
        case .video(let key, let kind):
            switch head.method {
            case .get, .head: return video(key, kind, head, loop: loop, on: eventLoop)
            case .options: return .now(preflight(head))
            default: return .now(methodNotAllowed(Self.mediaMethods))
            }
        }
    }

    func methodNotAllowed(_ allow: String) -> Response {
        .error(405, "method not allowed; use \(allow)", headers: [("Allow", allow)])
    }

    /// Work that may read much of the catalog or wait on a lock: a thread of the pool, never
    /// the event loop.
    func offLoop(_ eventLoop: any EventLoop, _ work: @escaping @Sendable () -> Response) -> ResponseSource {
        .later(runOffLoop(eventLoop, work))
    }

    func runOffLoop<T: Sendable>(_ eventLoop: any EventLoop, _ work: @escaping @Sendable () -> T) -> EventLoopFuture<T> {
        guard let threads else { return eventLoop.makeSucceededFuture(work()) }
        return threads.runIfActive(eventLoop: eventLoop, work)
    }

    // MARK: routes

    func health() -> Response {
        do {
            let count = try catalog.records.count()
            return .json(200, "{\"status\":\"ok\",\"records\":\(count)}")
        } catch {
            return .error(503, "catalog unavailable: \(error)", headers: [("Retry-After", "1")])
        }
    }

    func preflight(_ head: RequestHead) -> Response {
        var h = [("Allow", Self.mediaMethods)]
        if let origin = head.origin, configuration.corsOrigins.contains(origin) {
            h.append(("Access-Control-Allow-Methods", Self.mediaMethods))
            let requested = head.accessControlRequestHeaders ?? ""
            h.append(("Access-Control-Allow-Headers",
                      requested.isEmpty ? "Range, If-Range, If-None-Match, If-Modified-Since" : requested))
            h.append(("Access-Control-Max-Age", "600"))
        }
        return Response(status: 204, headers: h)
    }

    func video(_ route: Route.VideoKey, _ kind: FileKind?, _ head: RequestHead, loop: LoopState,
               on eventLoop: any EventLoop) -> ResponseSource {
        let key: RecordKey
        switch route {
        case .id(let id): key = .id(id)
        case .uuid(let u): key = .uuid(u)
        }
        do {
            let record = try loop.records.lookup(key, in: catalog.records)
            return .now(video(record, kind, head, files: loop.files))
        } catch CatalogError.busy {
            // Another process holds the catalog's lock: wait for it off the loop, briefly.
            let records = catalog.records
            let responder = self
            return .later(runOffLoop(eventLoop) {
                do {
                    return .success(try records.lookup(key, wait: responder.configuration.catalogWait))
                } catch {
                    return .failure(error)
                }
            }.map { (result: Result<VideoRecord?, Error>) -> Response in
                switch result {
                case .success(let record):
                    // Back on the loop: open and serve as usual (the file cache is the loop's).
                    return responder.video(record, kind, head, files: loop.files)
                case .failure(let error):
                    return .error(503, "catalog unavailable: \(error)", headers: [("Retry-After", "1")])
                }
            })
        } catch {
            return .now(.error(503, "catalog unavailable: \(error)", headers: [("Retry-After", "1")]))
        }
    }

    func video(_ record: VideoRecord?, _ kind: FileKind?, _ head: RequestHead, files: FileCache) -> Response {
        guard let record else { return .error(404, "no such record") }
        let chosen = kind ?? (record.file(.processed) != nil ? .processed : .raw)
        guard let file = record.file(chosen) else {
            return .error(404, "record \(record.id) has no \(chosen.rawValue) file")
        }
        // Ciphertext by design (the app decrypts it itself): useless to a browser, and not ours to hand out.
        if record.encrypted && file.playable == file.path {
            return .error(403, "record \(record.id)'s \(chosen.rawValue) file is encrypted by the application; medialib does not stream it")
        }
        // A playable copy, when the catalog names one, is what a browser gets.
        let path = mediaRoot.resolve(file.playable)
        switch files.open(path, root: mediaRoot) {
        case .failure(.outsideRoot(let real)):
            log("warning: record \(record.id) names \(real.displayed), outside the media root; refused")
            return .error(404, "file not found")
        case .failure(.missing), .failure(.notRegular):
            return .error(404, "file not found")
        case .failure(.unreadable(let why)):
            log("warning: record \(record.id): cannot open \(file.playable.displayed): \(why)")
            return .error(404, "file not found")
        case .success(let opened):
            return serve(opened, head)
        }
    }

    // MARK: RFC 9110 steps

    func serve(_ file: ServedFile, _ head: RequestHead) -> Response {
        let conditions = RequestConditions(
            method: head.method.name, hasRange: head.range != nil,
            ifMatch: head.ifMatch, ifNoneMatch: head.ifNoneMatch,
            ifModifiedSince: head.ifModifiedSince, ifUnmodifiedSince: head.ifUnmodifiedSince,
            ifRange: head.ifRange)
        let honourRange: Bool
        switch evaluateConditions(conditions, ResourceValidators(etag: file.etag, lastModified: file.lastModified)) {
        case .notModified:
            return Response(status: 304, validators: file.validatorLines)
        case .preconditionFailed:
            var r = Response.error(412, "precondition failed")
            r.validators = file.validatorLines
            return r
        case .proceed(let honour):
            honourRange = honour
        }
        let request = evaluateRange(honourRange ? head.range : nil, size: file.size,
                                    limits: RangeLimits(maxRanges: configuration.maxRanges))
        // Random boundaries cost a getrandom call: only multipart answers need one.
        let boundary: String
        if case .ranges(let list) = request, list.count > 1 { boundary = makeBoundary() } else { boundary = "" }
        switch chooseRangeResponse(request, size: file.size, contentType: file.contentType, boundary: boundary) {
        case .full:
            let body: Response.Body = file.size > 0 ? .file(file, ByteRange(first: 0, last: file.size - 1)) : .none
            var r = Response(status: 200, headers: [("Content-Type", file.contentType)], validators: file.validatorLines,
                             representation: file.representationLines, body: body)
            r.prefix = file.okPrefix
            return r
        case .single(let range):
            var r = Response(status: 206, headers: [("Content-Type", file.contentType)],
                             validators: file.validatorLines, representation: file.representationLines, body: .file(file, range))
            r.prefix = file.partialPrefix
            r.contentRange = range
            r.fileSize = file.size
            return r
        case .multipart(let multipart):
            return Response(status: 206, headers: [("Content-Type", multipart.contentType)], validators: file.validatorLines,
                            representation: file.representationLines, body: .multipart(file, multipart))
        case .unsatisfiable:
            var r = Response.error(416, "range not satisfiable for \(file.size) bytes",
                                   headers: [("Accept-Ranges", "bytes"), ("Content-Range", unsatisfiedContentRange(size: file.size))])
            r.validators = file.validatorLines
            return r
        }
    }
}

extension NIOThreadPool {
    /// Runs `work` on the pool and completes on `eventLoop`; fails only when the pool stopped.
    func runIfActive<T: Sendable>(eventLoop: any EventLoop, _ work: @escaping @Sendable () -> T) -> EventLoopFuture<T> {
        let promise = eventLoop.makePromise(of: T.self)
        submit { state in
            switch state {
            case .active: promise.succeed(work())
            case .cancelled: promise.fail(ChannelError.ioOnClosedChannel)
            }
        }
        return promise.futureResult
    }
}
