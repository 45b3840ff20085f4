#if DEBUG
import Mustache

/// A check that page values which name their fields for the templates (`MustacheParent`,
/// instead of swift-mustache's reflection) name every one: a field left out of `child(named:)`
/// would render as nothing, silently. Debug builds check each page they draw, so every page
/// test checks its page.
enum PageFields {
    /// The fields (`Type.field`) a `MustacheParent` in `value` holds but does not name.
    static func unnamed(in value: Any) -> [String] {
        var unnamed: [String] = []
        visit(value, depth: 0, into: &unnamed)
        return unnamed
    }

    static func assertComplete(_ value: Any) {
        let unnamed = unnamed(in: value)
        assert(unnamed.isEmpty, "page fields not named for the templates: \(unnamed.joined(separator: ", "))")
    }

    private static func visit(_ value: Any, depth: Int, into unnamed: inout [String]) {
        guard depth < 8 else { return }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .struct, .class:
            let parent = value as? any MustacheParent
            for child in mirror.children {
                if let parent, let label = child.label, parent.child(named: label) == nil, !isNone(child.value) {
                    unnamed.append("\(type(of: value)).\(label)")
                }
                visit(child.value, depth: depth + 1, into: &unnamed)
            }
        case .collection, .optional, .tuple:
            for child in mirror.children { visit(child.value, depth: depth + 1, into: &unnamed) }
        default:
            return
        }
    }

    private static func isNone(_ value: Any) -> Bool {
        let mirror = Mirror(reflecting: value)
        return mirror.displayStyle == .optional && mirror.children.isEmpty
    }
}
#endif
