/// A value kept behind one reference and copied on write, as Array keeps its elements.
///
/// For the large form of a collection (a hash table, a tree): held inline, its struct of
/// arrays would widen every value of that type, small ones included, by some 80 bytes; behind
/// a box it costs one pointer, and nothing at all while the collection is small (nil).
struct CowBox<T: Sendable>: Sendable {
    private final class Ref: @unchecked Sendable {
        // Mutated only through `value`'s modify accessor, which first makes the reference
        // unique: a shared Ref is never written.
        var value: T
        init(_ value: T) { self.value = value }
    }

    private var ref: Ref

    init(_ value: T) { ref = Ref(value) }

    /// Reads the value in place. A read of `value` through the class copies the struct (a
    /// retain per array it holds) and, where the accessor is not inlined, allocates a
    /// coroutine frame; hot lookups come here instead. `body` must not write.
    @inline(__always) func peek<R>(_ body: (inout T) -> R) -> R { body(&ref.value) }

    /// Writes the value in place, copying it first if it is shared.
    @inline(__always) mutating func modify<R>(_ body: (inout T) -> R) -> R {
        if !isKnownUniquelyReferenced(&ref) { ref = Ref(ref.value) }
        return body(&ref.value)
    }

    var value: T {
        _read { yield ref.value }
        _modify {
            if !isKnownUniquelyReferenced(&ref) { ref = Ref(ref.value) }
            yield &ref.value
        }
    }
}
