// HTTP-date: RFC 9110 §5.6.7. Epoch seconds, UTC, no Foundation: the civil
// calendar conversions are Howard Hinnant's days_from_civil/civil_from_days.

public enum HTTPDate {
    static let dayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let longDayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    static let minEpoch: Int64 = -62_135_596_800  // 0001-01-01T00:00:00Z
    static let maxEpoch: Int64 = 253_402_300_799  // 9999-12-31T23:59:59Z
    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// IMF-fixdate, the only form a sender may generate:
    /// `Sun, 06 Nov 1994 08:49:37 GMT`. Clamped to years 0001–9999, the
    /// span a 4DIGIT year can express (and so extreme inputs cannot overflow).
    public static func format(_ epochSeconds: Int64) -> String {
        let t = min(max(epochSeconds, minEpoch), maxEpoch)
        let days = floorDiv(t, 86_400)
        let secs = t - days * 86_400
        let (y, m, d) = civil(fromDays: days)
        // Day 0 (1970-01-01) was a Thursday, index 4.
        let weekday = Int(((days % 7) + 11) % 7)
        return dayNames[weekday] + ", " + pad(d, 2) + " " + monthNames[Int(m) - 1] + " " + pad(y, 4) + " "
            + pad(secs / 3600, 2) + ":" + pad(secs / 60 % 60, 2) + ":" + pad(secs % 60, 2) + " GMT"
    }

    /// Parses IMF-fixdate and the two obsolete forms recipients MUST accept:
    /// RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
    /// (`Sun Nov  6 08:49:37 1994`). Case-sensitive, as the grammar is.
    /// The day name must be a valid name but is not checked against the date
    /// (it is redundant). RFC 850 two-digit years use a fixed pivot:
    /// 70–99 → 19xx, 00–69 → 20xx, avoiding a clock dependency.
    public static func parse(_ s: String) -> Int64? {
        let b = trimOWS(bytes(s))
        return parseIMFFixdate(b) ?? parseRFC850(b) ?? parseAsctime(b)
    }

    // MARK: - The three forms

    /// `Sun, 06 Nov 1994 08:49:37 GMT`
    static func parseIMFFixdate(_ b: Bytes) -> Int64? {
        guard b.count == 29 else { return nil }
        let s = b.startIndex
        guard dayNames.contains(where: { match(b, s, $0) }),
              match(b, s + 3, ", "), b[s + 7] == ASCII.space, b[s + 11] == ASCII.space,
              b[s + 16] == ASCII.space, match(b, s + 25, " GMT"),
              let day = number(b, s + 5, 2), let month = monthIndex(b, s + 8),
              let year = number(b, s + 12, 4), let time = timeOfDay(b, s + 17)
        else { return nil }
        return epoch(year: year, month: month, day: day, time: time)
    }

    /// `Sunday, 06-Nov-94 08:49:37 GMT`
    static func parseRFC850(_ b: Bytes) -> Int64? {
        guard let name = longDayNames.first(where: { match(b, b.startIndex, $0) }) else { return nil }
        let s = b.startIndex + name.utf8.count
        guard b.endIndex - s == 24, match(b, s, ", "), b[s + 4] == ASCII.dash, b[s + 8] == ASCII.dash,
              b[s + 11] == ASCII.space, match(b, s + 20, " GMT"),
              let day = number(b, s + 2, 2), let month = monthIndex(b, s + 5),
              let yy = number(b, s + 9, 2), let time = timeOfDay(b, s + 12)
        else { return nil }
        return epoch(year: yy < 70 ? 2000 + yy : 1900 + yy, month: month, day: day, time: time)
    }

    /// `Sun Nov  6 08:49:37 1994`
    static func parseAsctime(_ b: Bytes) -> Int64? {
        guard b.count == 24 else { return nil }
        let s = b.startIndex
        guard dayNames.contains(where: { match(b, s, $0) }),
              b[s + 3] == ASCII.space, b[s + 7] == ASCII.space, b[s + 10] == ASCII.space, b[s + 19] == ASCII.space,
              let month = monthIndex(b, s + 4), let time = timeOfDay(b, s + 11), let year = number(b, s + 20, 4)
        else { return nil }
        // day = 2DIGIT / ( SP DIGIT )
        let day = b[s + 8] == ASCII.space ? number(b, s + 9, 1) : number(b, s + 8, 2)
        guard let day else { return nil }
        return epoch(year: year, month: month, day: day, time: time)
    }

    // MARK: - Pieces

    static func match(_ b: Bytes, _ at: Int, _ literal: String) -> Bool {
        let lit = literal.utf8
        guard at >= b.startIndex, b.endIndex - at >= lit.count else { return false }
        return zip(b[at...], lit).allSatisfy { $0 == $1 }
    }

    static func number(_ b: Bytes, _ at: Int, _ width: Int) -> Int64? {
        let digits = b[at..<(at + width)]
        return isDigits(digits) ? saturatingInt64(digits) : nil
    }

    /// 1-based month.
    static func monthIndex(_ b: Bytes, _ at: Int) -> Int64? {
        monthNames.firstIndex { match(b, at, $0) }.map { Int64($0 + 1) }
    }

    /// `HH:MM:SS`, with 60 seconds allowed for a leap second.
    static func timeOfDay(_ b: Bytes, _ at: Int) -> Int64? {
        guard b[at + 2] == ASCII.colon, b[at + 5] == ASCII.colon,
              let h = number(b, at, 2), let m = number(b, at + 3, 2), let sec = number(b, at + 6, 2),
              h < 24, m < 60, sec <= 60
        else { return nil }
        return h * 3600 + m * 60 + sec
    }

    static func epoch(year: Int64, month: Int64, day: Int64, time: Int64) -> Int64? {
        guard day >= 1, day <= daysInMonth(year: year, month: month) else { return nil }
        return days(fromCivil: year, month, day) * 86_400 + time
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func isLeap(_ y: Int64) -> Bool { y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) }

    /// Days since 1970-01-01 for a proleptic Gregorian date.
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
