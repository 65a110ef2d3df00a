// swift-tools-version:6.0
import PackageDescription

// Release builds drop Swift's run-time exclusivity checks (swift_beginAccess on every access
// to a class's stored property): they showed as 3-4% of CPU under load in perf, and the
// compile-time checks still apply. Debug and test builds keep them.
let releaseSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"],
                                                                   .when(configuration: .release))]

let package = Package(
    name: "Larder",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "larder-server", targets: ["larder-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // RESP reader and writer; ByteBuffer is its only outside type.
        .target(name: "RESP", dependencies: [.product(name: "NIOCore", package: "swift-nio")], swiftSettings: releaseSettings),
        // memcached's text and meta protocols: framing and parsing; knows nothing of storage.
        .target(name: "Memcache", swiftSettings: releaseSettings),
        // Values, shards, keyspace, expiry; no NIO.
        .target(name: "Storage", dependencies: [.product(name: "DequeModule", package: "swift-collections")],
                swiftSettings: releaseSettings),
        // Debian's Lua 5.1 and lua-cjson, as Redis embeds them (the README's commands install them).
        .systemLibrary(name: "CLua", providers: [.apt(["liblua5.1-0-dev", "lua-cjson-dev", "lua-bitop"])]),
        // What Swift cannot do with Lua itself: its macros, and raising errors (longjmp) without
        // crossing a Swift frame.
        .target(name: "CScripting", dependencies: ["CLua"],
                linkerSettings: [.linkedLibrary("lua5.1"), .linkedLibrary("lua5.1-cjson"), .linkedLibrary("dl")]),
        // Command table and command families.
        // The one C call Swift's Glibc module does not expose (mallinfo2).
        .target(name: "CLarderSys"),
        .target(name: "Engine", dependencies: ["RESP", "Memcache", "Storage", "Persistence", "CLarderSys", "CScripting", "CLua",
                                                .product(name: "NIOCore", package: "swift-nio"),
                                                .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: releaseSettings),
        // RDB (and later AOF): CRC-64, LZF, the value and file formats; no NIO.
        .target(name: "Persistence", dependencies: ["Storage", .product(name: "DequeModule", package: "swift-collections")],
                swiftSettings: releaseSettings),
        // SwiftNIO bootstrap, connections, configuration files.
        .target(name: "Server", dependencies: ["Engine", "RESP", "Memcache", "Storage", "Persistence",
                                                .product(name: "NIOCore", package: "swift-nio"),
                                                .product(name: "NIOPosix", package: "swift-nio"),
                                                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                                .product(name: "NIOHTTP1", package: "swift-nio"),
                                                .product(name: "Logging", package: "swift-log")],
                swiftSettings: releaseSettings),
        .executableTarget(name: "larder-server", dependencies: [
            "Server", "Engine", "CLarderSys",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The load generator of bench/mixed.py (a SET:GET mix redis-benchmark cannot make).
        .executableTarget(name: "bench-load", dependencies: ["Storage"], swiftSettings: releaseSettings),
        // The RESP reader under libFuzzer (see Tests/fuzz/README.md), or a corpus replayer.
        .executableTarget(name: "resp-fuzz", dependencies: ["RESP"]),
        .testTarget(name: "RESPTests", dependencies: ["RESP"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage"]),
        .testTarget(name: "MemcacheTests", dependencies: ["Memcache"]),
        .testTarget(name: "PersistenceTests", dependencies: ["Persistence", "Storage"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "RESP", "Storage"]),
    ]
)
