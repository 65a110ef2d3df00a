/// Redis's error replies, to the letter: clients and scripts match on them.
public enum Errors {
    public static let wrongType = "WRONGTYPE Operation against a key holding the wrong kind of value"
    public static let notInteger = "ERR value is not an integer or out of range"
    public static let notFloat = "ERR value is not a valid float"
    public static let syntax = "ERR syntax error"
    public static let noSuchKey = "ERR no such key"
    public static let overflow = "ERR increment or decrement would overflow"
    public static let dbIndexOutOfRange = "ERR DB index is out of range"
    public static let noAuth = "NOAUTH Authentication required."
    public static let wrongPass = "WRONGPASS invalid username-password pair or user is disabled."
    public static let maxClients = "ERR max number of clients reached"
    public static let stringTooLong = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    public static let sameObject = "ERR source and destination objects are the same"
    public static let invalidCursor = "ERR invalid cursor"

    public static func arity(_ name: String) -> String {
        "ERR wrong number of arguments for '\(name)' command"
    }

    public static func invalidExpire(_ name: String) -> String {
        "ERR invalid expire time in '\(name)' command"
    }

    /// A sub-command given the wrong number of arguments its handler checks itself.
    public static func subcommandArguments(_ sub: String, _ container: String) -> String {
        "ERR unknown subcommand or wrong number of arguments for '\(sub.prefix(128))'. Try \(container.uppercased()) HELP."
    }

    public static func unknownSubcommand(_ sub: String, _ container: String) -> String {
        "ERR unknown subcommand '\(sub.prefix(128))'. Try \(container.uppercased()) HELP."
    }
}
