/// Each command's argument tree, key specs, tips and doc flags, in the notation
/// `CommandDocs.parse` documents: Redis 7.0's descriptions (as redis-server 7.0.15 answers
/// COMMAND DOCS and COMMAND INFO), with 7.2's ZRANK WITHSCORE and CLIENT SETINFO that Larder
/// also serves. One record per command or sub-command, sorted by name.
enum CommandDocsTable {
    static let text = #"""
acl
  since 6.0.0
acl|cat
  since 6.0.0
  args categoryname:string?
acl|deluser
  since 6.0.0
  args username:string*
acl|dryrun
  since 7.0.0
  args username:string command:string arg:string?*
acl|genpass
  since 6.0.0
  args bits:integer?
acl|getuser
  since 6.0.0
  args username:string
acl|help
  since 6.0.0
acl|list
  since 6.0.0
acl|load
  since 6.0.0
acl|log
  since 6.0.0
  args operation?(count:integer|RESET)
acl|save
  since 6.0.0
acl|setuser
  since 6.0.0
  args username:string rule:string?*
acl|users
  since 6.0.0
acl|whoami
  since 6.0.0
append
  since 2.0.0
  args key:key#0 value:string
  keys RW,insert index:1 range:0,1,0
asking
  since 3.0.0
auth
  since 1.0.0
  args username:string@6.0.0? password:string
bgrewriteaof
  since 1.0.0
bgsave
  since 1.0.0
  args SCHEDULE@3.2.2?
bitcount
  since 2.6.0
  args key:key#0 index?{start:integer end:integer index_unit@7.0.0?(BYTE|BIT)}
  keys RO,access index:1 range:0,1,0
bitfield
  since 3.2.0
  args key:key#0 operation?*(GET=encoding_offset{encoding:string offset:integer}|write{OVERFLOW=wrap_sat_fail?(WRAP|SAT|FAIL) write_operation(SET=encoding_offset_value{encoding:string offset:integer value:integer}|INCRBY=encoding_offset_increment{encoding:string offset:integer increment:integer})})
  keys RW,access,update,variable_flags index:1 range:0,1,0
bitfield_ro
  since 6.0.0
  args key:key#0 GET=encoding_offset?*^{encoding:string offset:integer}
  keys RO,access index:1 range:0,1,0
bitop
  since 2.6.0
  args operation:string destkey:key#0 key:key#1*
  keys OW,update index:2 range:0,1,0
  keys RO,access index:3 range:-1,1,0
bitpos
  since 2.8.7
  args key:key#0 bit:integer index?{start:integer end_index?{end:integer index_unit@7.0.0?(BYTE|BIT)}}
  keys RO,access index:1 range:0,1,0
blmove
  since 6.2.0
  args source:key#0 destination:key#1 wherefrom(LEFT|RIGHT) whereto(LEFT|RIGHT) timeout:double
  keys RW,access,delete index:1 range:0,1,0
  keys RW,insert index:2 range:0,1,0
blmpop
  since 7.0.0
  args timeout:double numkeys:integer key:key#0* where(LEFT|RIGHT) COUNT=count:integer?
  keys RW,access,delete index:2 keynum:0,1,1
blpop
  since 2.0.0
  args key:key#0* timeout:double
  keys RW,access,delete index:1 range:-2,1,0
brpop
  since 2.0.0
  args key:key#0* timeout:double
  keys RW,access,delete index:1 range:-2,1,0
brpoplpush
  since 2.2.0
  args source:key#0 destination:key#1 timeout:double
  keys RW,access,delete index:1 range:0,1,0
  keys RW,insert index:2 range:0,1,0
  docflags deprecated
  deprecated 6.2.0
  replaced-by `BLMOVE` with the `RIGHT` and `LEFT` arguments
bzmpop
  since 7.0.0
  args timeout:double numkeys:integer key:key#0* where(MIN|MAX) COUNT=count:integer?
  keys RW,access,delete index:2 keynum:0,1,1
bzpopmax
  since 5.0.0
  args key:key#0* timeout:double
  keys RW,access,delete index:1 range:-2,1,0
bzpopmin
  since 5.0.0
  args key:key#0* timeout:double
  keys RW,access,delete index:1 range:-2,1,0
client
  since 2.4.0
client|caching
  since 6.0.0
  args mode(YES|NO)
client|getname
  since 2.6.9
client|getredir
  since 6.0.0
client|help
  since 5.0.0
client|id
  since 5.0.0
client|info
  since 6.2.0
  tips nondeterministic_output
client|kill
  since 2.4.0
  args filter("ip:port":string!2.8.12|new-format*(ID=client-id:integer@2.8.12?|TYPE=normal_master_slave_pubsub@2.8.12?(NORMAL|MASTER@3.2.0|SLAVE|REPLICA@5.0.0|PUBSUB)|USER=username:string?|ADDR="ip:port":string?|LADDR="ip:port":string@6.2.0?|SKIPME="yes/no":string?))
client|list
  since 2.4.0
  args TYPE=normal_master_replica_pubsub@5.0.0?(NORMAL|MASTER|REPLICA|PUBSUB) ID=id@6.2.0?{client-id:integer*}
  tips nondeterministic_output
client|no-evict
  since 7.0.0
  args enabled(ON|OFF)
client|pause
  since 2.9.50
  args timeout:integer mode@6.2.0?(WRITE|ALL)
client|reply
  since 3.2.0
  args on_off_skip(ON|OFF|SKIP)
client|setinfo
  since 7.2.0
  args attr(LIB-NAME=libname:string|LIB-VER=libver:string)
client|setname
  since 2.6.9
  args connection-name:string
client|tracking
  since 6.0.0
  args status(ON|OFF) REDIRECT=client-id:integer? PREFIX=prefix:string?*^ BCAST? OPTIN? OPTOUT? NOLOOP?
client|trackinginfo
  since 6.2.0
client|unblock
  since 5.0.0
  args client-id:integer timeout_error?(TIMEOUT|ERROR)
client|unpause
  since 6.2.0
cluster
  since 3.0.0
cluster|addslots
  since 3.0.0
  args slot:integer*
cluster|addslotsrange
  since 7.0.0
  args start-slot_end-slot*{start-slot:integer end-slot:integer}
cluster|bumpepoch
  since 3.0.0
  tips nondeterministic_output
cluster|count-failure-reports
  since 3.0.0
  args node-id:string
  tips nondeterministic_output
cluster|countkeysinslot
  since 3.0.0
  args slot:integer
cluster|delslots
  since 3.0.0
  args slot:integer*
cluster|delslotsrange
  since 7.0.0
  args start-slot_end-slot*{start-slot:integer end-slot:integer}
cluster|failover
  since 3.0.0
  args options?(FORCE|TAKEOVER)
cluster|flushslots
  since 3.0.0
cluster|forget
  since 3.0.0
  args node-id:string
cluster|getkeysinslot
  since 3.0.0
  args slot:integer count:integer
  tips nondeterministic_output
cluster|help
  since 5.0.0
cluster|info
  since 3.0.0
  tips nondeterministic_output
cluster|keyslot
  since 3.0.0
  args key:string
cluster|links
  since 7.0.0
  tips nondeterministic_output
cluster|meet
  since 3.0.0
  args ip:string port:integer cluster_bus_port:integer@4.0.0?
cluster|myid
  since 3.0.0
cluster|nodes
  since 3.0.0
  tips nondeterministic_output
cluster|replicas
  since 5.0.0
  args node-id:string
  tips nondeterministic_output
cluster|replicate
  since 3.0.0
  args node-id:string
cluster|reset
  since 3.0.0
  args hard_soft?(HARD|SOFT)
cluster|saveconfig
  since 3.0.0
cluster|set-config-epoch
  since 3.0.0
  args config-epoch:integer
cluster|setslot
  since 3.0.0
  args slot:integer subcommand(IMPORTING=node-id:string|MIGRATING=node-id:string|NODE=node-id:string|STABLE)
cluster|shards
  since 7.0.0
  tips nondeterministic_output
cluster|slaves
  since 3.0.0
  args node-id:string
  tips nondeterministic_output
  docflags deprecated
  deprecated 5.0.0
  replaced-by `CLUSTER REPLICAS`
cluster|slots
  since 3.0.0
  tips nondeterministic_output
  docflags deprecated
  deprecated 7.0.0
  replaced-by `CLUSTER SHARDS`
command
  since 2.8.13
  tips nondeterministic_output_order
command|count
  since 2.8.13
command|docs
  since 7.0.0
  args command-name:string?*
  tips nondeterministic_output_order
command|getkeys
  since 2.8.13
command|getkeysandflags
  since 7.0.0
command|help
  since 5.0.0
command|info
  since 2.8.13
  args command-name:string?*
  tips nondeterministic_output_order
command|list
  since 7.0.0
  args FILTERBY=filterby?(MODULE=module-name:string|ACLCAT=category:string|PATTERN=pattern:pattern)
  tips nondeterministic_output_order
config
  since 2.0.0
config|get
  since 2.0.0
  args parameter*{parameter:string}
config|help
  since 5.0.0
config|resetstat
  since 2.0.0
config|rewrite
  since 2.8.0
config|set
  since 2.0.0
  args parameter_value*{parameter:string value:string}
  tips request_policy:all_nodes response_policy:all_succeeded
copy
  since 6.2.0
  args source:key#0 destination:key#1 DB=destination-db:integer? REPLACE?
  keys RO,access index:1 range:0,1,0
  keys OW,update index:2 range:0,1,0
dbsize
  since 1.0.0
  tips request_policy:all_shards response_policy:agg_sum
debug
  since 1.0.0
  docflags syscmd
decr
  since 1.0.0
  args key:key#0
  keys RW,access,update index:1 range:0,1,0
decrby
  since 1.0.0
  args key:key#0 decrement:integer
  keys RW,access,update index:1 range:0,1,0
del
  since 1.0.0
  args key:key#0*
  keys RM,delete index:1 range:-1,1,0
  tips request_policy:multi_shard response_policy:agg_sum
discard
  since 2.0.0
dump
  since 2.6.0
  args key:key#0
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output
echo
  since 1.0.0
  args message:string
eval
  since 2.6.0
  args script:string numkeys:integer key:key#0?* arg:string?*
  keys RW,access,update index:2 keynum:0,1,1
eval_ro
  since 7.0.0
  args script:string numkeys:integer key:key#0?* arg:string?*
  keys RO,access index:2 keynum:0,1,1
evalsha
  since 2.6.0
  args sha1:string numkeys:integer key:key#0?* arg:string?*
  keys RW,access,update index:2 keynum:0,1,1
evalsha_ro
  since 7.0.0
  args sha1:string numkeys:integer key:key#0?* arg:string?*
  keys RO,access index:2 keynum:0,1,1
exec
  since 1.2.0
exists
  since 1.0.0
  args key:key#0*
  keys RO index:1 range:-1,1,0
  tips request_policy:multi_shard response_policy:agg_sum
expire
  since 1.0.0
  args key:key#0 seconds:integer condition@7.0.0?(NX|XX|GT|LT)
  keys RW,update index:1 range:0,1,0
expireat
  since 1.2.0
  args key:key#0 unix-time-seconds:unix-time condition@7.0.0?(NX|XX|GT|LT)
  keys RW,update index:1 range:0,1,0
expiretime
  since 7.0.0
  args key:key#0
  keys RO,access index:1 range:0,1,0
fcall
  since 7.0.0
  args function:string numkeys:integer key:key#0?* arg:string?*
  keys RW,access,update index:2 keynum:0,1,1
fcall_ro
  since 7.0.0
  args function:string numkeys:integer key:key#0?* arg:string?*
  keys RO,access index:2 keynum:0,1,1
flushall
  since 1.0.0
  args async?(ASYNC@4.0.0|SYNC@6.2.0)
  tips request_policy:all_shards response_policy:all_succeeded
flushdb
  since 1.0.0
  args async?(ASYNC@4.0.0|SYNC@6.2.0)
  tips request_policy:all_shards response_policy:all_succeeded
function
  since 7.0.0
function|delete
  since 7.0.0
  args library-name:string
  tips request_policy:all_shards response_policy:all_succeeded
function|dump
  since 7.0.0
function|flush
  since 7.0.0
  args async?(ASYNC|SYNC)
  tips request_policy:all_shards response_policy:all_succeeded
function|help
  since 7.0.0
function|kill
  since 7.0.0
  tips request_policy:all_shards response_policy:one_succeeded
function|list
  since 7.0.0
  args LIBRARYNAME=library-name-pattern:string? WITHCODE?
  tips nondeterministic_output_order
function|load
  since 7.0.0
  args REPLACE? function-code:string
  tips request_policy:all_shards response_policy:all_succeeded
function|restore
  since 7.0.0
  args serialized-value:string policy?(FLUSH|APPEND|REPLACE)
  tips request_policy:all_shards response_policy:all_succeeded
function|stats
  since 7.0.0
  tips nondeterministic_output request_policy:all_shards response_policy:special
geoadd
  since 3.2.0
  args key:key#0 condition@6.2.0?(NX|XX) CH=change@6.2.0? longitude_latitude_member*{longitude:double latitude:double member:string}
  keys RW,update index:1 range:0,1,0
geodist
  since 3.2.0
  args key:key#0 member1:string member2:string unit?(M|KM|FT|MI)
  keys RO,access index:1 range:0,1,0
geohash
  since 3.2.0
  args key:key#0 member:string*
  keys RO,access index:1 range:0,1,0
geopos
  since 3.2.0
  args key:key#0 member:string*
  keys RO,access index:1 range:0,1,0
georadius
  since 3.2.0
  args key:key#0 longitude:double latitude:double radius:double unit(M|KM|FT|MI) WITHCOORD? WITHDIST? WITHHASH? count?{COUNT=count:integer ANY@6.2.0?} order?(ASC|DESC) STORE=key:key#1? STOREDIST=key:key#2?
  keys RO,access index:1 range:0,1,0
  keys OW,update keyword:STORE,6 range:0,1,0
  keys OW,update keyword:STOREDIST,6 range:0,1,0
  docflags deprecated
  deprecated 6.2.0
  replaced-by `GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument
georadius_ro
  since 3.2.10
  args key:key#0 longitude:double latitude:double radius:double unit(M|KM|FT|MI) WITHCOORD? WITHDIST? WITHHASH? count?{COUNT=count:integer ANY@6.2.0?} order?(ASC|DESC)
  keys RO,access index:1 range:0,1,0
  docflags deprecated
  deprecated 6.2.0
  replaced-by `GEOSEARCH` with the `BYRADIUS` argument
georadiusbymember
  since 3.2.0
  args key:key#0 member:string radius:double unit(M|KM|FT|MI) WITHCOORD? WITHDIST? WITHHASH? count?{COUNT=count:integer ANY?} order?(ASC|DESC) STORE=key:key#1? STOREDIST=key:key#2?
  keys RO,access index:1 range:0,1,0
  keys OW,update keyword:STORE,5 range:0,1,0
  keys OW,update keyword:STOREDIST,5 range:0,1,0
  docflags deprecated
  deprecated 6.2.0
  replaced-by `GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments
georadiusbymember_ro
  since 3.2.10
  args key:key#0 member:string radius:double unit(M|KM|FT|MI) WITHCOORD? WITHDIST? WITHHASH? count?{COUNT=count:integer ANY?} order?(ASC|DESC)
  keys RO,access index:1 range:0,1,0
  docflags deprecated
  deprecated 6.2.0
  replaced-by `GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments
geosearch
  since 6.2.0
  args key:key#0 from(FROMMEMBER=member:string|FROMLONLAT=longitude_latitude{longitude:double latitude:double}) by(circle{BYRADIUS=radius:double unit(M|KM|FT|MI)}|box{BYBOX=width:double height:double unit(M|KM|FT|MI)}) order?(ASC|DESC) count?{COUNT=count:integer ANY?} WITHCOORD? WITHDIST? WITHHASH?
  keys RO,access index:1 range:0,1,0
geosearchstore
  since 6.2.0
  args destination:key#0 source:key#1 from(FROMMEMBER=member:string|FROMLONLAT=longitude_latitude{longitude:double latitude:double}) by(circle{BYRADIUS=radius:double unit(M|KM|FT|MI)}|box{BYBOX=width:double height:double unit(M|KM|FT|MI)}) order?(ASC|DESC) count?{COUNT=count:integer ANY?} STOREDIST?
  keys OW,update index:1 range:0,1,0
  keys RO,access index:2 range:0,1,0
get
  since 1.0.0
  args key:key#0
  keys RO,access index:1 range:0,1,0
getbit
  since 2.2.0
  args key:key#0 offset:integer
  keys RO,access index:1 range:0,1,0
getdel
  since 6.2.0
  args key:key#0
  keys RW,access,delete index:1 range:0,1,0
getex
  since 6.2.0
  args key:key#0 expiration?(EX=seconds:integer|PX=milliseconds:integer|EXAT=unix-time-seconds:unix-time|PXAT=unix-time-milliseconds:unix-time|PERSIST)
  keys RW,access,update index:1 range:0,1,0
getrange
  since 2.4.0
  args key:key#0 start:integer end:integer
  keys RO,access index:1 range:0,1,0
getset
  since 1.0.0
  args key:key#0 value:string
  keys RW,access,update index:1 range:0,1,0
  docflags deprecated
  deprecated 6.2.0
  replaced-by `SET` with the `!GET` argument
hdel
  since 2.0.0
  args key:key#0 field:string*
  keys RW,delete index:1 range:0,1,0
hello
  since 6.0.0
  args arguments?{protover:integer AUTH=username_password?{username:string password:string} SETNAME=clientname:string?}
hexists
  since 2.0.0
  args key:key#0 field:string
  keys RO index:1 range:0,1,0
hget
  since 2.0.0
  args key:key#0 field:string
  keys RO,access index:1 range:0,1,0
hgetall
  since 2.0.0
  args key:key#0
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output_order
hincrby
  since 2.0.0
  args key:key#0 field:string increment:integer
  keys RW,access,update index:1 range:0,1,0
hincrbyfloat
  since 2.6.0
  args key:key#0 field:string increment:double
  keys RW,access,update index:1 range:0,1,0
hkeys
  since 2.0.0
  args key:key#0
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output_order
hlen
  since 2.0.0
  args key:key#0
  keys RO index:1 range:0,1,0
hmget
  since 2.0.0
  args key:key#0 field:string*
  keys RO,access index:1 range:0,1,0
hmset
  since 2.0.0
  args key:key#0 field_value*{field:string value:string}
  keys RW,update index:1 range:0,1,0
  docflags deprecated
  deprecated 4.0.0
  replaced-by `HSET` with multiple field-value pairs
hrandfield
  since 6.2.0
  args key:key#0 options?{count:integer WITHVALUES?}
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output
hscan
  since 2.8.0
  args key:key#0 cursor:integer MATCH=pattern:pattern? COUNT=count:integer?
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output
hset
  since 2.0.0
  args key:key#0 field_value*{field:string value:string}
  keys RW,update index:1 range:0,1,0
hsetnx
  since 2.0.0
  args key:key#0 field:string value:string
  keys RW,insert index:1 range:0,1,0
hstrlen
  since 3.2.0
  args key:key#0 field:string
  keys RO index:1 range:0,1,0
hvals
  since 2.0.0
  args key:key#0
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output_order
incr
  since 1.0.0
  args key:key#0
  keys RW,access,update index:1 range:0,1,0
incrby
  since 1.0.0
  args key:key#0 increment:integer
  keys RW,access,update index:1 range:0,1,0
incrbyfloat
  since 2.6.0
  args key:key#0 increment:double
  keys RW,access,update index:1 range:0,1,0
info
  since 1.0.0
  args section:string?*
  tips nondeterministic_output request_policy:all_shards response_policy:special
keys
  since 1.0.0
  args pattern:pattern
  tips request_policy:all_shards nondeterministic_output_order
lastsave
  since 1.0.0
  tips nondeterministic_output
latency
  since 2.8.13
latency|doctor
  since 2.8.13
  tips nondeterministic_output request_policy:all_nodes response_policy:special
latency|graph
  since 2.8.13
  args event:string
  tips nondeterministic_output request_policy:all_nodes response_policy:special
latency|help
  since 2.8.13
latency|histogram
  since 7.0.0
  args command:string?*
  tips nondeterministic_output request_policy:all_nodes response_policy:special
latency|history
  since 2.8.13
  args event:string
  tips nondeterministic_output request_policy:all_nodes response_policy:special
latency|latest
  since 2.8.13
  tips nondeterministic_output request_policy:all_nodes response_policy:special
latency|reset
  since 2.8.13
  args event:string?*
  tips request_policy:all_nodes response_policy:all_succeeded
lcs
  since 7.0.0
  args key1:key#0 key2:key#0 LEN? IDX? MINMATCHLEN=len:integer? WITHMATCHLEN?
  keys RO,access index:1 range:1,1,0
lindex
  since 1.0.0
  args key:key#0 index:integer
  keys RO,access index:1 range:0,1,0
linsert
  since 2.2.0
  args key:key#0 where(BEFORE|AFTER) pivot:string element:string
  keys RW,insert index:1 range:0,1,0
llen
  since 1.0.0
  args key:key#0
  keys RO index:1 range:0,1,0
lmove
  since 6.2.0
  args source:key#0 destination:key#1 wherefrom(LEFT|RIGHT) whereto(LEFT|RIGHT)
  keys RW,access,delete index:1 range:0,1,0
  keys RW,insert index:2 range:0,1,0
lmpop
  since 7.0.0
  args numkeys:integer key:key#0* where(LEFT|RIGHT) COUNT=count:integer?
  keys RW,access,delete index:1 keynum:0,1,1
lolwut
  since 5.0.0
  args VERSION=version:integer?
lpop
  since 1.0.0
  args key:key#0 count:integer@6.2.0?
  keys RW,access,delete index:1 range:0,1,0
lpos
  since 6.0.6
  args key:key#0 element:string RANK=rank:integer? COUNT=num-matches:integer? MAXLEN=len:integer?
  keys RO,access index:1 range:0,1,0
lpush
  since 1.0.0
  args key:key#0 element:string*
  keys RW,insert index:1 range:0,1,0
lpushx
  since 2.2.0
  args key:key#0 element:string*
  keys RW,insert index:1 range:0,1,0
lrange
  since 1.0.0
  args key:key#0 start:integer stop:integer
  keys RO,access index:1 range:0,1,0
lrem
  since 1.0.0
  args key:key#0 count:integer element:string
  keys RW,delete index:1 range:0,1,0
lset
  since 1.0.0
  args key:key#0 index:integer element:string
  keys RW,update index:1 range:0,1,0
ltrim
  since 1.0.0
  args key:key#0 start:integer stop:integer
  keys RW,delete index:1 range:0,1,0
memory
  since 4.0.0
memory|doctor
  since 4.0.0
  tips nondeterministic_output request_policy:all_shards response_policy:special
memory|help
  since 4.0.0
memory|malloc-stats
  since 4.0.0
  tips nondeterministic_output request_policy:all_shards response_policy:special
memory|purge
  since 4.0.0
  tips request_policy:all_shards response_policy:all_succeeded
memory|stats
  since 4.0.0
  tips nondeterministic_output request_policy:all_shards response_policy:special
memory|usage
  since 4.0.0
  args key:key#0 SAMPLES=count:integer?
  keys RO index:2 range:0,1,0
mget
  since 1.0.0
  args key:key#0*
  keys RO,access index:1 range:-1,1,0
  tips request_policy:multi_shard
migrate
  since 2.6.0
  args host:string port:integer key_or_empty_string(key:key#0|""=empty_string) destination-db:integer timeout:integer COPY@3.0.0? REPLACE@3.0.0? authentication?(AUTH=password:string@4.0.7?|AUTH2=username_password@6.0.0?{username:string password:string}) KEYS=key:key#1@3.0.6?*
  keys RW,access,delete index:3 range:0,1,0
  keys RW,access,delete,incomplete keyword:KEYS,-2 range:-1,1,0
  tips nondeterministic_output
monitor
  since 1.0.0
move
  since 1.0.0
  args key:key#0 db:integer
  keys RW,access,update index:1 range:0,1,0
mset
  since 1.0.1
  args key_value*{key:key#0 value:string}
  keys OW,update index:1 range:-1,2,0
  tips request_policy:multi_shard response_policy:all_succeeded
msetnx
  since 1.0.1
  args key_value*{key:key#0 value:string}
  keys OW,insert index:1 range:-1,2,0
  tips request_policy:multi_shard response_policy:agg_min
multi
  since 1.2.0
object
  since 2.2.3
object|encoding
  since 2.2.3
  args key:key#0
  keys RO index:2 range:0,1,0
  tips nondeterministic_output
object|freq
  since 4.0.0
  args key:key#0
  keys RO index:2 range:0,1,0
  tips nondeterministic_output
object|help
  since 6.2.0
object|idletime
  since 2.2.3
  args key:key#0
  keys RO index:2 range:0,1,0
  tips nondeterministic_output
object|refcount
  since 2.2.3
  args key:key#0
  keys RO index:2 range:0,1,0
  tips nondeterministic_output
persist
  since 2.2.0
  args key:key#0
  keys RW,update index:1 range:0,1,0
pexpire
  since 2.6.0
  args key:key#0 milliseconds:integer condition@7.0.0?(NX|XX|GT|LT)
  keys RW,update index:1 range:0,1,0
pexpireat
  since 2.6.0
  args key:key#0 unix-time-milliseconds:unix-time condition@7.0.0?(NX|XX|GT|LT)
  keys RW,update index:1 range:0,1,0
pexpiretime
  since 7.0.0
  args key:key#0
  keys RO,access index:1 range:0,1,0
pfadd
  since 2.8.9
  args key:key#0 element:string?*
  keys RW,insert index:1 range:0,1,0
pfcount
  since 2.8.9
  args key:key#0*
  keys RW,access index:1 range:-1,1,0
pfdebug
  since 2.8.9
  args subcommand:string key:key#0
  keys RW,access index:2 range:0,1,0
  docflags syscmd
pfmerge
  since 2.8.9
  args destkey:key#0 sourcekey:key#1*
  keys RW,access,insert index:1 range:0,1,0
  keys RO,access index:2 range:-1,1,0
pfselftest
  since 2.8.9
  docflags syscmd
ping
  since 1.0.0
  args message:string?
  tips request_policy:all_shards response_policy:all_succeeded
psetex
  since 2.6.0
  args key:key#0 milliseconds:integer value:string
  keys OW,update index:1 range:0,1,0
psubscribe
  since 2.0.0
  args pattern*{pattern:pattern}
psync
  since 2.8.0
  args replicationid:string offset:integer
pttl
  since 2.6.0
  args key:key#0
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output
publish
  since 2.0.0
  args channel:string message:string
pubsub
  since 2.8.0
pubsub|channels
  since 2.8.0
  args pattern:pattern?
pubsub|help
  since 6.2.0
pubsub|numpat
  since 2.8.0
pubsub|numsub
  since 2.8.0
  args channel:string?*
pubsub|shardchannels
  since 7.0.0
  args pattern:pattern?
pubsub|shardnumsub
  since 7.0.0
  args shardchannel:string?*
punsubscribe
  since 2.0.0
  args pattern:pattern?*
quit
  since 1.0.0
randomkey
  since 1.0.0
  tips request_policy:all_shards nondeterministic_output
readonly
  since 3.0.0
readwrite
  since 3.0.0
rename
  since 1.0.0
  args key:key#0 newkey:key#1
  keys RW,access,delete index:1 range:0,1,0
  keys OW,update index:2 range:0,1,0
renamenx
  since 1.0.0
  args key:key#0 newkey:key#1
  keys RW,access,delete index:1 range:0,1,0
  keys OW,insert index:2 range:0,1,0
replconf
  since 3.0.0
  docflags syscmd
replicaof
  since 5.0.0
  args args(host-port{host:string port:integer}|no-one{NO ONE})
reset
  since 6.2.0
restore
  since 2.6.0
  args key:key#0 ttl:integer serialized-value:string REPLACE@3.0.0? ABSTTL@5.0.0? IDLETIME=seconds:integer@5.0.0? FREQ=frequency:integer@5.0.0?
  keys OW,update index:1 range:0,1,0
restore-asking
  since 3.0.0
  args key:key#0 ttl:integer serialized-value:string REPLACE@3.0.0? ABSTTL@5.0.0? IDLETIME=seconds:integer@5.0.0? FREQ=frequency:integer@5.0.0?
  keys OW,update index:1 range:0,1,0
  docflags syscmd
role
  since 2.8.12
rpop
  since 1.0.0
  args key:key#0 count:integer@6.2.0?
  keys RW,access,delete index:1 range:0,1,0
rpoplpush
  since 1.2.0
  args source:key#0 destination:key#1
  keys RW,access,delete index:1 range:0,1,0
  keys RW,insert index:2 range:0,1,0
  docflags deprecated
  deprecated 6.2.0
  replaced-by `LMOVE` with the `RIGHT` and `LEFT` arguments
rpush
  since 1.0.0
  args key:key#0 element:string*
  keys RW,insert index:1 range:0,1,0
rpushx
  since 2.2.0
  args key:key#0 element:string*
  keys RW,insert index:1 range:0,1,0
sadd
  since 1.0.0
  args key:key#0 member:string*
  keys RW,insert index:1 range:0,1,0
save
  since 1.0.0
scan
  since 2.8.0
  args cursor:integer MATCH=pattern:pattern? COUNT=count:integer? TYPE=type:string@6.0.0?
  tips nondeterministic_output request_policy:special
scard
  since 1.0.0
  args key:key#0
  keys RO index:1 range:0,1,0
script
  since 2.6.0
script|debug
  since 3.2.0
  args mode(YES|SYNC|NO)
script|exists
  since 2.6.0
  args sha1:string*
  tips request_policy:all_shards response_policy:agg_logical_and
script|flush
  since 2.6.0
  args async@6.2.0?(ASYNC|SYNC)
  tips request_policy:all_nodes response_policy:all_succeeded
script|help
  since 5.0.0
script|kill
  since 2.6.0
  tips request_policy:all_shards response_policy:one_succeeded
script|load
  since 2.6.0
  args script:string
  tips request_policy:all_nodes response_policy:all_succeeded
sdiff
  since 1.0.0
  args key:key#0*
  keys RO,access index:1 range:-1,1,0
  tips nondeterministic_output_order
sdiffstore
  since 1.0.0
  args destination:key#0 key:key#1*
  keys OW,update index:1 range:0,1,0
  keys RO,access index:2 range:-1,1,0
select
  since 1.0.0
  args index:integer
set
  since 1.0.0
  args key:key#0 value:string condition@2.6.12?(NX|XX) GET@6.2.0? expiration?(EX=seconds:integer@2.6.12|PX=milliseconds:integer@2.6.12|EXAT=unix-time-seconds:unix-time@6.2.0|PXAT=unix-time-milliseconds:unix-time@6.2.0|KEEPTTL@6.0.0)
  keys RW,access,update,variable_flags index:1 range:0,1,0
setbit
  since 2.2.0
  args key:key#0 offset:integer value:integer
  keys RW,access,update index:1 range:0,1,0
setex
  since 2.0.0
  args key:key#0 seconds:integer value:string
  keys OW,update index:1 range:0,1,0
setnx
  since 1.0.0
  args key:key#0 value:string
  keys OW,insert index:1 range:0,1,0
setrange
  since 2.2.0
  args key:key#0 offset:integer value:string
  keys RW,update index:1 range:0,1,0
shutdown
  since 1.0.0
  args nosave_save?(NOSAVE|SAVE) NOW@7.0.0? FORCE@7.0.0? ABORT@7.0.0?
sinter
  since 1.0.0
  args key:key#0*
  keys RO,access index:1 range:-1,1,0
  tips nondeterministic_output_order
sintercard
  since 7.0.0
  args numkeys:integer key:key#0* LIMIT=limit:integer?
  keys RO,access index:1 keynum:0,1,1
sinterstore
  since 1.0.0
  args destination:key#0 key:key#1*
  keys RW,update index:1 range:0,1,0
  keys RO,access index:2 range:-1,1,0
sismember
  since 1.0.0
  args key:key#0 member:string
  keys RO index:1 range:0,1,0
slaveof
  since 1.0.0
  args args(host-port{host:string port:integer}|no-one{NO ONE})
  docflags deprecated
  deprecated 5.0.0
  replaced-by `REPLICAOF`
slowlog
  since 2.2.12
slowlog|get
  since 2.2.12
  args count:integer?
  tips request_policy:all_nodes nondeterministic_output
slowlog|help
  since 6.2.0
slowlog|len
  since 2.2.12
  tips request_policy:all_nodes response_policy:agg_sum nondeterministic_output
slowlog|reset
  since 2.2.12
  tips request_policy:all_nodes response_policy:all_succeeded
smembers
  since 1.0.0
  args key:key#0
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output_order
smismember
  since 6.2.0
  args key:key#0 member:string*
  keys RO,access index:1 range:0,1,0
smove
  since 1.0.0
  args source:key#0 destination:key#1 member:string
  keys RW,access,delete index:1 range:0,1,0
  keys RW,insert index:2 range:0,1,0
sort
  since 1.0.0
  args key:key#0 BY=pattern:pattern#1? LIMIT=offset_count?{offset:integer count:integer} GET=pattern:pattern#1?*^ order?(ASC|DESC) ALPHA=sorting? STORE=destination:key#2?
  keys RO,access index:1 range:0,1,0
  keys RO,access unknown unknown
  keys OW,update unknown unknown
sort_ro
  since 7.0.0
  args key:key#0 BY=pattern:pattern#1? LIMIT=offset_count?{offset:integer count:integer} GET=pattern:pattern#1?*^ order?(ASC|DESC) ALPHA=sorting?
  keys RO,access index:1 range:0,1,0
  keys RO,access unknown unknown
spop
  since 1.0.0
  args key:key#0 count:integer@3.2.0?
  keys RW,access,delete index:1 range:0,1,0
  tips nondeterministic_output
spublish
  since 7.0.0
  args shardchannel:string message:string
  keys not_key index:1 range:0,1,0
srandmember
  since 1.0.0
  args key:key#0 count:integer@2.6.0?
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output
srem
  since 1.0.0
  args key:key#0 member:string*
  keys RW,delete index:1 range:0,1,0
sscan
  since 2.8.0
  args key:key#0 cursor:integer MATCH=pattern:pattern? COUNT=count:integer?
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output
ssubscribe
  since 7.0.0
  args shardchannel:string*
  keys not_key index:1 range:-1,1,0
strlen
  since 2.2.0
  args key:key#0
  keys RO index:1 range:0,1,0
subscribe
  since 2.0.0
  args channel:string*
substr
  since 1.0.0
  args key:key#0 start:integer end:integer
  keys RO,access index:1 range:0,1,0
  docflags deprecated
  deprecated 2.0.0
  replaced-by `GETRANGE`
sunion
  since 1.0.0
  args key:key#0*
  keys RO,access index:1 range:-1,1,0
  tips nondeterministic_output_order
sunionstore
  since 1.0.0
  args destination:key#0 key:key#1*
  keys OW,update index:1 range:0,1,0
  keys RO,access index:2 range:-1,1,0
sunsubscribe
  since 7.0.0
  args shardchannel:string?*
  keys not_key index:1 range:-1,1,0
swapdb
  since 4.0.0
  args index1:integer index2:integer
sync
  since 1.0.0
time
  since 2.6.0
  tips nondeterministic_output
touch
  since 3.2.1
  args key:key#0*
  keys RO index:1 range:-1,1,0
  tips request_policy:multi_shard response_policy:agg_sum
ttl
  since 1.0.0
  args key:key#0
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output
type
  since 1.0.0
  args key:key#0
  keys RO index:1 range:0,1,0
unlink
  since 4.0.0
  args key:key#0*
  keys RM,delete index:1 range:-1,1,0
  tips request_policy:multi_shard response_policy:agg_sum
unsubscribe
  since 2.0.0
  args channel:string?*
unwatch
  since 2.2.0
wait
  since 3.0.0
  args numreplicas:integer timeout:integer
  tips request_policy:all_shards response_policy:agg_min
watch
  since 2.2.0
  args key:key#0*
  keys RO index:1 range:-1,1,0
xack
  since 5.0.0
  args key:key#0 group:string id:string*
  keys RW,update index:1 range:0,1,0
xadd
  since 5.0.0
  args key:key#0 NOMKSTREAM@6.2.0? trim?{strategy(MAXLEN|MINID@6.2.0) operator?("="=equal|"~"=approximately) threshold:string LIMIT=count:integer@6.2.0?} id_or_auto("*"=auto_id|id:string) field_value*{field:string value:string}
  keys RW,update index:1 range:0,1,0
  tips nondeterministic_output
xautoclaim
  since 6.2.0
  args key:key#0 group:string consumer:string min-idle-time:string start:string COUNT=count:integer? JUSTID?
  keys RW,delete index:1 range:0,1,0
  tips nondeterministic_output
xclaim
  since 5.0.0
  args key:key#0 group:string consumer:string min-idle-time:string id:string* IDLE=ms:integer? TIME=unix-time-milliseconds:unix-time? RETRYCOUNT=count:integer? FORCE? JUSTID? LASTID=id:string?
  keys RW,update index:1 range:0,1,0
  tips nondeterministic_output
xdel
  since 5.0.0
  args key:key#0 id:string*
  keys RW,delete index:1 range:0,1,0
xgroup
  since 5.0.0
xgroup|create
  since 5.0.0
  args key:key#0 groupname:string id(id:string|"$"=new_id) MKSTREAM? ENTRIESREAD=entries_read:integer?
  keys RW,insert index:2 range:0,1,0
xgroup|createconsumer
  since 6.2.0
  args key:key#0 groupname:string consumername:string
  keys RW,insert index:2 range:0,1,0
xgroup|delconsumer
  since 5.0.0
  args key:key#0 groupname:string consumername:string
  keys RW,delete index:2 range:0,1,0
xgroup|destroy
  since 5.0.0
  args key:key#0 groupname:string
  keys RW,delete index:2 range:0,1,0
xgroup|help
  since 5.0.0
xgroup|setid
  since 5.0.0
  args key:key#0 groupname:string id(id:string|"$"=new_id) ENTRIESREAD=entries_read:integer?
  keys RW,update index:2 range:0,1,0
xinfo
  since 5.0.0
xinfo|consumers
  since 5.0.0
  args key:key#0 groupname:string
  keys RO,access index:2 range:0,1,0
  tips nondeterministic_output
xinfo|groups
  since 5.0.0
  args key:key#0
  keys RO,access index:2 range:0,1,0
xinfo|help
  since 5.0.0
xinfo|stream
  since 5.0.0
  args key:key#0 FULL=full?{COUNT=count:integer?}
  keys RO,access index:2 range:0,1,0
xlen
  since 5.0.0
  args key:key#0
  keys RO index:1 range:0,1,0
xpending
  since 5.0.0
  args key:key#0 group:string filters?{IDLE=min-idle-time:integer@6.2.0? start:string end:string count:integer consumer:string?}
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output
xrange
  since 5.0.0
  args key:key#0 start:string end:string COUNT=count:integer?
  keys RO,access index:1 range:0,1,0
xread
  since 5.0.0
  args COUNT=count:integer? BLOCK=milliseconds:integer? STREAMS=streams{key:key#0* id:string*}
  keys RO,access keyword:STREAMS,1 range:-1,1,2
xreadgroup
  since 5.0.0
  args GROUP=group_consumer{group:string consumer:string} COUNT=count:integer? BLOCK=milliseconds:integer? NOACK? STREAMS=streams{key:key#0* id:string*}
  keys RO,access keyword:STREAMS,4 range:-1,1,2
xrevrange
  since 5.0.0
  args key:key#0 end:string start:string COUNT=count:integer?
  keys RO,access index:1 range:0,1,0
xsetid
  since 5.0.0
  args key:key#0 last-id:string ENTRIESADDED=entries_added:integer@7.0.0? MAXDELETEDID=max_deleted_entry_id:string@7.0.0?
  keys RW,update index:1 range:0,1,0
xtrim
  since 5.0.0
  args key:key#0 trim{strategy(MAXLEN|MINID@6.2.0) operator?("="=equal|"~"=approximately) threshold:string LIMIT=count:integer@6.2.0?}
  keys RW,delete index:1 range:0,1,0
  tips nondeterministic_output
zadd
  since 1.2.0
  args key:key#0 condition@3.0.2?(NX|XX) comparison@6.2.0?(GT|LT) CH=change@3.0.2? INCR=increment@3.0.2? score_member*{score:double member:string}
  keys RW,update index:1 range:0,1,0
zcard
  since 1.2.0
  args key:key#0
  keys RO index:1 range:0,1,0
zcount
  since 2.0.0
  args key:key#0 min:double max:double
  keys RO,access index:1 range:0,1,0
zdiff
  since 6.2.0
  args numkeys:integer key:key#0* WITHSCORES?
  keys RO,access index:1 keynum:0,1,1
zdiffstore
  since 6.2.0
  args destination:key#0 numkeys:integer key:key#1*
  keys OW,update index:1 range:0,1,0
  keys RO,access index:2 keynum:0,1,1
zincrby
  since 1.2.0
  args key:key#0 increment:integer member:string
  keys RW,access,update index:1 range:0,1,0
zinter
  since 6.2.0
  args numkeys:integer key:key#0* WEIGHTS=weight:integer?* AGGREGATE=aggregate?(SUM|MIN|MAX) WITHSCORES?
  keys RO,access index:1 keynum:0,1,1
zintercard
  since 7.0.0
  args numkeys:integer key:key#0* LIMIT=limit:integer?
  keys RO,access index:1 keynum:0,1,1
zinterstore
  since 2.0.0
  args destination:key#0 numkeys:integer key:key#1* WEIGHTS=weight:integer?* AGGREGATE=aggregate?(SUM|MIN|MAX)
  keys OW,update index:1 range:0,1,0
  keys RO,access index:2 keynum:0,1,1
zlexcount
  since 2.8.9
  args key:key#0 min:string max:string
  keys RO,access index:1 range:0,1,0
zmpop
  since 7.0.0
  args numkeys:integer key:key#0* where(MIN|MAX) COUNT=count:integer?
  keys RW,access,delete index:1 keynum:0,1,1
zmscore
  since 6.2.0
  args key:key#0 member:string*
  keys RO,access index:1 range:0,1,0
zpopmax
  since 5.0.0
  args key:key#0 count:integer?
  keys RW,access,delete index:1 range:0,1,0
zpopmin
  since 5.0.0
  args key:key#0 count:integer?
  keys RW,access,delete index:1 range:0,1,0
zrandmember
  since 6.2.0
  args key:key#0 options?{count:integer WITHSCORES?}
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output
zrange
  since 1.2.0
  args key:key#0 start:string stop:string sortby@6.2.0?(BYSCORE|BYLEX) REV@6.2.0? LIMIT=offset_count@6.2.0?{offset:integer count:integer} WITHSCORES?
  keys RO,access index:1 range:0,1,0
zrangebylex
  since 2.8.9
  args key:key#0 min:string max:string LIMIT=offset_count?{offset:integer count:integer}
  keys RO,access index:1 range:0,1,0
  docflags deprecated
  deprecated 6.2.0
  replaced-by `ZRANGE` with the `BYLEX` argument
zrangebyscore
  since 1.0.5
  args key:key#0 min:double max:double WITHSCORES@2.0.0? LIMIT=offset_count?{offset:integer count:integer}
  keys RO,access index:1 range:0,1,0
  docflags deprecated
  deprecated 6.2.0
  replaced-by `ZRANGE` with the `BYSCORE` argument
zrangestore
  since 6.2.0
  args dst:key#0 src:key#1 min:string max:string sortby?(BYSCORE|BYLEX) REV? LIMIT=offset_count?{offset:integer count:integer}
  keys OW,update index:1 range:0,1,0
  keys RO,access index:2 range:0,1,0
zrank
  since 2.0.0
  args key:key#0 member:string WITHSCORE@7.2.0?
  keys RO,access index:1 range:0,1,0
zrem
  since 1.2.0
  args key:key#0 member:string*
  keys RW,delete index:1 range:0,1,0
zremrangebylex
  since 2.8.9
  args key:key#0 min:string max:string
  keys RW,delete index:1 range:0,1,0
zremrangebyrank
  since 2.0.0
  args key:key#0 start:integer stop:integer
  keys RW,delete index:1 range:0,1,0
zremrangebyscore
  since 1.2.0
  args key:key#0 min:double max:double
  keys RW,delete index:1 range:0,1,0
zrevrange
  since 1.2.0
  args key:key#0 start:integer stop:integer WITHSCORES?
  keys RO,access index:1 range:0,1,0
  docflags deprecated
  deprecated 6.2.0
  replaced-by `ZRANGE` with the `REV` argument
zrevrangebylex
  since 2.8.9
  args key:key#0 max:string min:string LIMIT=offset_count?{offset:integer count:integer}
  keys RO,access index:1 range:0,1,0
  docflags deprecated
  deprecated 6.2.0
  replaced-by `ZRANGE` with the `REV` and `BYLEX` arguments
zrevrangebyscore
  since 2.2.0
  args key:key#0 max:double min:double WITHSCORES? LIMIT=offset_count?{offset:integer count:integer}
  keys RO,access index:1 range:0,1,0
  docflags deprecated
  deprecated 6.2.0
  replaced-by `ZRANGE` with the `REV` and `BYSCORE` arguments
zrevrank
  since 2.0.0
  args key:key#0 member:string WITHSCORE@7.2.0?
  keys RO,access index:1 range:0,1,0
zscan
  since 2.8.0
  args key:key#0 cursor:integer MATCH=pattern:pattern? COUNT=count:integer?
  keys RO,access index:1 range:0,1,0
  tips nondeterministic_output
zscore
  since 1.2.0
  args key:key#0 member:string
  keys RO,access index:1 range:0,1,0
zunion
  since 6.2.0
  args numkeys:integer key:key#0* WEIGHTS=weight:integer?* AGGREGATE=aggregate?(SUM|MIN|MAX) WITHSCORES?
  keys RO,access index:1 keynum:0,1,1
zunionstore
  since 2.0.0
  args destination:key#0 numkeys:integer key:key#1* WEIGHTS=weight:integer?* AGGREGATE=aggregate?(SUM|MIN|MAX)
  keys OW,update index:1 range:0,1,0
  keys RO,access index:2 keynum:0,1,1
"""#
}
