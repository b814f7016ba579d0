-- Add or refresh the presence entry of a client.
--
-- KEYS[1] expiry zset       P.presence.expire.<ch>  (client -> expire-at, Unix seconds)
-- KEYS[2] data hash         P.presence.data.<ch>    (client -> protobuf ClientInfo)
-- KEYS[3] user expiry zset  P.presence.user.expire.<ch>  (user -> expire-at)
-- KEYS[4] user count hash   P.presence.user.clients.<ch> (user -> number of clients)
-- ARGV[1] key ttl in milliseconds
-- ARGV[2] expire-at, Unix seconds
-- ARGV[3] client id
-- ARGV[4] protobuf ClientInfo
-- ARGV[5] user id
-- ARGV[6] "1" to maintain the user mapping

local expire_key, data_key, user_expire_key, user_clients_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local ttl, expire_at, client, info, user, mapping = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]

if mapping == "1" then
  if not redis.call("zscore", expire_key, client) then
    redis.call("hincrby", user_clients_key, user, 1)
  end
  redis.call("zadd", user_expire_key, expire_at, user)
  redis.call("pexpire", user_expire_key, ttl)
  redis.call("pexpire", user_clients_key, ttl)
end
redis.call("zadd", expire_key, expire_at, client)
redis.call("hset", data_key, client, info)
redis.call("pexpire", expire_key, ttl)
redis.call("pexpire", data_key, ttl)
return 1
