/// Larder's version, and the Redis version it answers as (HELLO, INFO) so that clients enable
/// the features it has.
public enum Version {
    public static let larder = "0.1.0"
    public static let redis = "7.0.15"
}
