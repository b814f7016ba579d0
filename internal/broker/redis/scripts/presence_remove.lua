-- Remove the presence entry of a client.
--
-- KEYS as in presence_add.lua.
-- ARGV[1] client id
-- ARGV[2] user id
-- ARGV[3] "1" to maintain the user mapping

local expire_key, data_key, user_expire_key, user_clients_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local client, user, mapping = ARGV[1], ARGV[2], ARGV[3]

local removed = redis.call("hdel", data_key, client)
redis.call("zrem", expire_key, client)
if mapping == "1" and removed == 1 then
  local left = redis.call("hincrby", user_clients_key, user, -1)
  if left <= 0 then
    redis.call("hdel", user_clients_key, user)
    redis.call("zrem", user_expire_key, user)
  end
end
return removed
