/// One parsed memcached request. Keys and data are slices of the connection's input buffer.
public enum MemcacheRequest {
    /// get, gets, gat, gats: keys are checked one by one as memcached does, so that the hits
    /// before a bad key are still answered.
    case retrieve(Retrieval, exptime: Int32, keys: [ArraySlice<UInt8>])
    /// set, add, replace, append, prepend, cas, after its data block arrived.
    case store(Store, key: ArraySlice<UInt8>, flags: UInt32, exptime: Int32, cas: UInt64,
               data: ArraySlice<UInt8>, noreply: Bool)
    /// A storage command whose data block was too large: swallowed, and for `set` the old item
    /// is dropped so that a stale value does not outlive the failed write (as memcached).
    case tooLarge(key: ArraySlice<UInt8>, dropExisting: Bool, noreply: Bool)
    case arithmetic(incr: Bool, key: ArraySlice<UInt8>, delta: UInt64, noreply: Bool)
    case touch(key: ArraySlice<UInt8>, exptime: Int32, noreply: Bool)
    case delete(key: ArraySlice<UInt8>, noreply: Bool)
    case flushAll(delay: Int32, noreply: Bool)
    case version
    case verbosity(noreply: Bool)
    case stats(arguments: [String])
    case quit
    case metaGet(key: [UInt8], flags: MetaFlags)
    case metaSet(key: [UInt8], flags: MetaFlags, data: ArraySlice<UInt8>)
    case metaDelete(key: [UInt8], flags: MetaFlags)
    case metaArithmetic(key: [UInt8], flags: MetaFlags)
    case metaDebug(key: [UInt8])
    case metaNoop
    /// A line answered without touching the store (an error, mostly).
    case reply(String, noreply: Bool)
    /// The connection must close (a command line too long to be one).
    case close

    public enum Retrieval: Sendable { case get, gets, gat, gats }
    public enum Store: Sendable { case set, add, replace, append, prepend, cas }
}

/// The flags of a meta command, in the order the client gave them (replies echo that order).
public struct MetaFlags {
    /// Each flag's letter and its token (the bytes after the letter).
    public var list: [(flag: UInt8, token: ArraySlice<UInt8>)] = []
    public var base64Key = false
    public var quiet = false
    public var returnValue = false
    public var noUpdate = false
    public var invalidate = false
    /// N: create on miss, with this TTL.
    public var vivify: Int32? = nil
    /// T: new TTL.
    public var ttl: Int32? = nil
    /// R: win the right to recache when the remaining TTL is below this.
    public var recache: Int32? = nil
    /// C: compare CAS. (E, an explicit new CAS, and x came after memcached 1.6.18.)
    public var compareCas: UInt64? = nil
    public var clientFlags: UInt32? = nil
    /// M: the mode letter of ms and ma.
    public var mode: UInt8? = nil
    /// J and D of ma.
    public var initial: UInt64 = 0
    public var delta: UInt64 = 1
    public var opaque: ArraySlice<UInt8>? = nil

    public init() {}
}
