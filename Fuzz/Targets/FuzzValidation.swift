// Target `validation`: the input rules every way of creating an account or a record shares
// (Sources/Domain/Validation.swift), on the text a request body or an identity provider's token
// carries.
//
// Input: one byte choosing the rule, then the text (UTF-8, invalid sequences repaired).
// Properties, for every input:
//   - normalisedEmail: a result is trimmed, lower-case, at most 254 bytes, one `@` with a local
//     part of 1 to 64 bytes and a dotted domain of letters, digits, `-`; printable ASCII only;
//     and normalising it again gives it back;
//   - text (name, type, description limits): a result is NFC, trimmed, within its character
//     and byte limits, without control characters but `\n` (categories Cc and Cf; ZWNJ and ZWJ
//     allowed, only between two non-ASCII, non-blank scalars), line or paragraph separators,
//     private-use or default-ignorable characters, or the blank Braille pattern (variation
//     selectors allowed, only right after a non-ASCII, non-blank scalar that is no joiner or
//     selector, or a keycap's base before U+20E3); validating it again gives it back;
//   - providerName: a result is what `text` accepts as a name, unchanged (the function's
//     promise: it makes the provider's name hold what `text` requires instead of refusing);
//   - domain: a result is lower-case, at most 253 bytes, 2+ labels of 1 to 63 ASCII letters,
//     digits and inner hyphens; validating it again gives it back;
//   - url: a result is 1 to 2048 bytes, either a path that starts with exactly one `/` (never
//     `//` or `/\`, which browsers read as another host) or an http(s) URL with a host, with no
//     space, backslash or control character (nor, in a path, a C1 control, a separator or a
//     format character such as U+202E), and an absolute one names its host with no user
//     information and a port of 1 to 65535 if any (`host:` is the default); validating it again
//     gives it back;
//   - requireValidPassword: accepted means 8 to 128 Unicode scalars and at most 512 bytes.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzValidation(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(start, count)
    let rule = input.byte() % 8
    let raw = input.text
    switch rule {
    case 0: checkEmail(raw)
    case 1: checkText(raw, length: Validation.nameLength)
    case 2: checkText(raw, length: WorkspaceLimits.descriptionLength)
    case 3: checkText(raw, length: WorkspaceLimits.typeLength)
    case 4: checkProviderName(raw)
    case 5: checkDomain(raw)
    case 6: checkURL(raw)
    default: checkPassword(raw)
    }
    return 0
}

private func checkEmail(_ raw: String) {
    guard let email = try? Validation.normalisedEmail(raw) else { return }
    require((try? Validation.normalisedEmail(email)) == email, "normalising \(quoted(email)) again changes it")
    require(email == email.lowercased(), "\(quoted(email)) is not lower-case")
    require(email.utf8.count <= 254, "\(quoted(email)) is over 254 bytes")
    require(email.unicodeScalars.allSatisfy { $0.value > 32 && $0.value < 127 }, "\(quoted(email)) is not printable ASCII")
    let parts = email.split(separator: "@", omittingEmptySubsequences: false)
    require(parts.count == 2 && (1...64).contains(parts[0].utf8.count), "\(quoted(email)): not one @ after 1 to 64 bytes")
    let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
    require(
        labels.count >= 2 && labels.allSatisfy { !$0.isEmpty },
        "\(quoted(email)): the domain is not dotted labels")
}

private func checkText(_ raw: String, length: ClosedRange<Int>) {
    guard let value = try? Validation.text(raw, field: "f", length: length) else { return }
    require((try? Validation.text(value, field: "f", length: length)) == value, "validating \(quoted(value)) again changes it")
    require(value == value.precomposedStringWithCanonicalMapping, "\(quoted(value)) is not NFC")
    require(value == value.trimmingCharacters(in: .whitespacesAndNewlines), "\(quoted(value)) is not trimmed")
    require(length.contains(value.count), "\(quoted(value)) has \(value.count) characters, outside \(length)")
    require(value.utf8.count <= length.upperBound * Validation.bytesPerCharacter, "\(quoted(value)) is over its bytes")
    require(
        !value.unicodeScalars.contains { hiddenOrControl($0) && $0 != "\n" },
        "\(quoted(value)) has control or invisible characters")
    require(joinersInPlace(value), "\(quoted(value)) has a joiner out of place")
    require(selectorsInPlace(value), "\(quoted(value)) has a variation selector out of place")
}

/// The reference for what a text field refuses, from Foundation's table and the ranges of the
/// Unicode Character Database rather than the properties `Validation` reads: control characters
/// (Cc and Cf) but ZWNJ and ZWJ; line and paragraph separators; private use; the
/// Default_Ignorable_Code_Point ranges of DerivedCoreProperties.txt but variation selectors;
/// the blank Braille pattern.
private func hiddenOrControl(_ scalar: Unicode.Scalar) -> Bool {
    if scalar == "\u{200C}" || scalar == "\u{200D}" || isVariationSelector(scalar) { return false }
    // Foundation's table also marks some unassigned scalars of plane 14 (U+E9A69), which text
    // accepts like every unassigned one (an emoji newer than this Unicode version).
    if CharacterSet.controlCharacters.contains(scalar), scalar.properties.generalCategory != .unassigned { return true }
    let refused: [ClosedRange<UInt32>] = [
        0x2028...0x2029, 0x2800...0x2800,
        0xE000...0xF8FF, 0xF0000...0xFFFFD, 0x10_0000...0x10_FFFD,
        0x00AD...0x00AD, 0x034F...0x034F, 0x061C...0x061C, 0x115F...0x1160, 0x17B4...0x17B5, 0x180B...0x180F,
        0x200B...0x200F, 0x202A...0x202E, 0x2060...0x206F, 0x3164...0x3164, 0xFE00...0xFE0F, 0xFEFF...0xFEFF,
        0xFFA0...0xFFA0, 0xFFF0...0xFFF8, 0x1BCA0...0x1BCA3, 0x1D173...0x1D17A, 0xE0000...0xE0FFF,
    ]
    return refused.contains { $0.contains(scalar.value) }
}

/// Variation selectors, from StandardizedVariants' ranges: FE00–FE0F, E0100–E01EF and
/// Mongolian's free variation selectors.
private func isVariationSelector(_ scalar: Unicode.Scalar) -> Bool {
    (0xFE00...0xFE0F).contains(scalar.value) || (0xE0100...0xE01EF).contains(scalar.value)
        || (0x180B...0x180D).contains(scalar.value) || scalar.value == 0x180F
}

/// Whether every variation selector in `text` follows a scalar that is none of: ASCII (but a
/// keycap's base, when U+20E3 follows the selector), white space, a joiner, a selector.
private func selectorsInPlace(_ text: String) -> Bool {
    let scalars = Array(text.unicodeScalars)
    for (index, scalar) in scalars.enumerated() where isVariationSelector(scalar) {
        guard index > 0 else { return false }
        let before = scalars[index - 1]
        if "0123456789#*".unicodeScalars.contains(before), index + 1 < scalars.count, scalars[index + 1] == "\u{20E3}" {
            continue
        }
        if before.value <= 0x7F || CharacterSet.whitespacesAndNewlines.contains(before) || before == "\u{200C}"
            || before == "\u{200D}" || isVariationSelector(before)
        {
            return false
        }
    }
    return true
}

/// Whether every ZWNJ or ZWJ in `text` stands between two scalars that are none of: a joiner,
/// ASCII, white space.
private func joinersInPlace(_ text: String) -> Bool {
    let scalars = Array(text.unicodeScalars)
    func letter(_ index: Int) -> Bool {
        index >= 0 && index < scalars.count && scalars[index].value > 0x7F
            && !CharacterSet.whitespacesAndNewlines.contains(scalars[index]) && scalars[index] != "\u{200C}"
            && scalars[index] != "\u{200D}"
    }
    for (index, scalar) in scalars.enumerated() where scalar == "\u{200C}" || scalar == "\u{200D}" {
        if !letter(index - 1) || !letter(index + 1) { return false }
    }
    return true
}

private func checkProviderName(_ raw: String) {
    guard let name = Validation.providerName(raw) else { return }
    do {
        let accepted = try Validation.text(name, field: "name")
        require(accepted == name, "providerName gives \(quoted(name)), which text() turns into \(quoted(accepted))")
    } catch {
        require(false, "providerName gives \(quoted(name)), which text() refuses: \(error.detail)")
    }
}

private func checkDomain(_ raw: String) {
    guard let domain = try? Validation.domain(raw) else { return }
    require((try? Validation.domain(domain)) == domain, "validating \(quoted(domain)) again changes it")
    require(domain == domain.lowercased() && domain.utf8.count <= 253, "\(quoted(domain)) is not lower-case or is long")
    let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
    let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-".utf8)
    require(
        labels.count >= 2
            && labels.allSatisfy { label in
                (1...63).contains(label.utf8.count) && label.utf8.allSatisfy(allowed.contains) && label.first != "-"
                    && label.last != "-"
            },
        "\(quoted(domain)) is not 2+ labels of ASCII letters, digits and inner hyphens")
}

private func checkURL(_ raw: String) {
    guard let url = try? Validation.url(raw, field: "url") else { return }
    require((try? Validation.url(url, field: "url")) == url, "validating \(quoted(url)) again changes it")
    require((1...2_048).contains(url.utf8.count), "\(quoted(url)) is not 1 to 2048 bytes")
    require(
        !url.unicodeScalars.contains { $0 == "\\" || $0.value <= 0x20 || $0.value == 0x7F },
        "\(quoted(url)) has a space, backslash or control character")
    if url.hasPrefix("/") {
        require(!url.hasPrefix("//") && !url.hasPrefix("/\\"), "path \(quoted(url)) is read as another host")
        let hidden: Set<Unicode.GeneralCategory> = [.control, .format, .spaceSeparator, .lineSeparator, .paragraphSeparator]
        require(
            !url.unicodeScalars.contains { hidden.contains($0.properties.generalCategory) },
            "path \(quoted(url)) has a character a reader cannot see")
    } else {
        let components = URLComponents(string: url)
        let scheme = components?.scheme?.lowercased()
        require(
            (scheme == "http" || scheme == "https") && !(components?.host ?? "").isEmpty,
            "\(quoted(url)) is neither a path nor an http(s) URL with a host")
        require(url.unicodeScalars.allSatisfy { $0.value < 0x7F }, "absolute \(quoted(url)) is not ASCII")
        require(components?.user == nil && components?.password == nil, "absolute \(quoted(url)) carries user information")
        // The port as written: after the host (or its closing bracket), before the path, query or fragment.
        let afterScheme = url.range(of: "://").map { url[$0.upperBound...] } ?? ""
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let hostEnd = authority.lastIndex(of: "]") ?? authority.startIndex
        if let colon = authority[hostEnd...].lastIndex(of: ":") {
            let written = authority[authority.index(after: colon)...]
            require(
                written.isEmpty || Int(written).map { (1...65_535).contains($0) } == true,
                "absolute \(quoted(url)) has port \(quoted(String(written)))")
        }
    }
}

private func checkPassword(_ raw: String) {
    guard (try? Validation.requireValidPassword(raw)) != nil else { return }
    // Counted in Unicode scalars, as the OpenAPI schema's minLength and maxLength count.
    require(
        (8...128).contains(raw.unicodeScalars.count) && raw.utf8.count <= 512,
        "password of \(raw.unicodeScalars.count) scalars accepted")
}
