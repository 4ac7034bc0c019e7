// Conditional requests: RFC 9110 §13.1 (the fields) and §13.2.2 (their order).

/// The conditional header fields of a request, as raw field values. When a
/// list field (If-Match, If-None-Match) arrives on several lines, join them
/// with ", " first.
public struct RequestConditions: Sendable {
    public var ifMatch: String?
    public var ifNoneMatch: String?
    public var ifModifiedSince: String?
    public var ifUnmodifiedSince: String?
    public var ifRange: String?
    /// Case-sensitive, as methods are: "GET", "HEAD", ...
    public var method: String
    /// Whether the request carried a `Range` field (its validity is `evaluateRange`'s job).
    public var hasRange: Bool

    public init(
        method: String = "GET",
        hasRange: Bool = false,
        ifMatch: String? = nil,
        ifNoneMatch: String? = nil,
        ifModifiedSince: String? = nil,
        ifUnmodifiedSince: String? = nil,
        ifRange: String? = nil
    ) {
        self.method = method
        self.hasRange = hasRange
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
        self.ifModifiedSince = ifModifiedSince
        self.ifUnmodifiedSince = ifUnmodifiedSince
        self.ifRange = ifRange
    }

    var isGetOrHead: Bool { method == "GET" || method == "HEAD" }
}

/// The validators the server sends with the representation.
public struct ResourceValidators: Sendable {
    public var etag: EntityTag
    /// Epoch seconds, truncated: Last-Modified has one-second resolution.
    public var lastModified: Int64

    public init(etag: EntityTag, lastModified: Int64) {
        self.etag = etag
        self.lastModified = lastModified
    }
}

public enum ConditionalOutcome: Equatable, Sendable {
    /// Serve the representation; apply `Range` only if `honourRange`.
    case proceed(honourRange: Bool)
    /// 304 (only ever for GET/HEAD).
    case notModified
    /// 412.
    case preconditionFailed
}

/// Evaluates preconditions in the order of RFC 9110 §13.2.2 for an existing
/// resource. `honourRange` is true only when the request has a `Range`, the
/// method is GET or HEAD, and If-Range (if any) passes.
///
/// HEAD is treated like GET for If-Range so that a HEAD answers with exactly
/// the headers the GET would; whether to honour Range on HEAD at all is the
/// caller's choice (RFC 9110 §14.2 only defines Range for GET).
///
/// Invalid fields: If-Match fails closed (412); If-None-Match, the dates and
/// If-Range are ignored (If-Range then means "send the full representation").
public func evaluateConditions(_ c: RequestConditions, _ v: ResourceValidators) -> ConditionalOutcome {
    // Step 1, else step 2 (If-Unmodified-Since is ignored when If-Match is present).
    if let ifMatch = c.ifMatch {
        guard ifMatchPasses(ifMatch, v) else { return .preconditionFailed }
    } else if let ius = c.ifUnmodifiedSince, !ifUnmodifiedSincePasses(ius, v) {
        return .preconditionFailed
    }
    // Step 3, else step 4 (If-Modified-Since is ignored when If-None-Match is present).
    if let ifNoneMatch = c.ifNoneMatch, let tags = EntityTagList.parse(ifNoneMatch) {
        if !ifNoneMatchPasses(tags, v) { return c.isGetOrHead ? .notModified : .preconditionFailed }
    } else if c.isGetOrHead, let ims = c.ifModifiedSince, !ifModifiedSincePasses(ims, v) {
        return .notModified
    }
    // Step 5.
    return .proceed(honourRange: rangeApplies(c, v))
}

/// §13.1.1: true if `*` or any listed tag strongly matches. Invalid syntax
/// fails: a client that sent If-Match wanted protection, so don't proceed.
func ifMatchPasses(_ value: String, _ v: ResourceValidators) -> Bool {
    EntityTagList.parse(value)?.containsStrongMatch(for: v.etag) ?? false
}

/// §13.1.4: false if modified after the date; an invalid date is ignored.
func ifUnmodifiedSincePasses(_ value: String, _ v: ResourceValidators) -> Bool {
    guard let date = HTTPDate.parse(value) else { return true }
    return v.lastModified <= date
}

/// §13.1.2: false (i.e. "not modified") if `*` or any tag weakly matches.
func ifNoneMatchPasses(_ tags: EntityTagList, _ v: ResourceValidators) -> Bool {
    !tags.containsWeakMatch(for: v.etag)
}

/// §13.1.3: false if not modified since the date; an invalid date is ignored.
func ifModifiedSincePasses(_ value: String, _ v: ResourceValidators) -> Bool {
    guard let date = HTTPDate.parse(value) else { return true }
    return v.lastModified > date
}

/// §13.1.5 / §13.2.2 step 5: Range applies to GET (and HEAD, see above),
/// unless an If-Range validator no longer matches.
func rangeApplies(_ c: RequestConditions, _ v: ResourceValidators) -> Bool {
    guard c.hasRange, c.isGetOrHead else { return false }
    guard let ifRange = c.ifRange else { return true }
    return ifRangePasses(ifRange, v)
}

/// If-Range = entity-tag / HTTP-date. Tags need a strong match (a weak tag
/// never matches); a date must equal Last-Modified exactly, as anything else
/// cannot prove the bytes are unchanged. Unparseable: send the full thing.
func ifRangePasses(_ value: String, _ v: ResourceValidators) -> Bool {
    if let tag = EntityTag.parse(value) { return tag.strongMatch(v.etag) }
    if let date = HTTPDate.parse(value) { return date == v.lastModified }
    return false
}
