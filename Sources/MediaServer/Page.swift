import NIOCore

/// The operator's page: HTML, CSS and JavaScript compiled into the binary (Page/), served
/// with a policy that allows no inline script, no inline style and no other origin.
enum Page {
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static let securityHeaders: [(String, String)] = [
        ("Content-Security-Policy", contentSecurityPolicy),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-cache"),
    ]

    static var index: Response {
        Response(status: 200, headers: securityHeaders + [("Content-Type", "text/html; charset=utf-8")],
                 body: .bytes(ByteBuffer(bytes: PackageResources.index_html)))
    }

    static func asset(_ name: String) -> Response? {
        switch name {
        case "app.js":
            Response(status: 200, headers: securityHeaders + [("Content-Type", "text/javascript; charset=utf-8")],
                     body: .bytes(ByteBuffer(bytes: PackageResources.app_js)))
        case "app.css":
            Response(status: 200, headers: securityHeaders + [("Content-Type", "text/css; charset=utf-8")],
                     body: .bytes(ByteBuffer(bytes: PackageResources.app_css)))
        default: nil
        }
    }
}
