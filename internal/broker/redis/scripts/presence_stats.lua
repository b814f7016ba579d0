-- Drop expired presence entries and users and return the counts; O(1) apart
-- from the expired entries. Needs the user mapping.
--
-- KEYS as in presence_add.lua.
-- ARGV[1] now, Unix seconds
--
-- Returns {number of clients, number of users}.

local expire_key, data_key, user_expire_key, user_clients_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = ARGV[1]

local expired = redis.call("zrangebyscore", expire_key, "-inf", now)
if #expired > 0 then
  for i = 1, #expired, 1000 do
    redis.call("hdel", data_key, unpack(expired, i, math.min(i + 999, #expired)))
  end
  redis.call("zremrangebyscore", expire_key, "-inf", now)
end
local expired_users = redis.call("zrangebyscore", user_expire_key, "-inf", now)
if #expired_users > 0 then
  for i = 1, #expired_users, 1000 do
    redis.call("hdel", user_clients_key, unpack(expired_users, i, math.min(i + 999, #expired_users)))
  end
  redis.call("zremrangebyscore", user_expire_key, "-inf", now)
end
return {redis.call("hlen", data_key), redis.call("zcard", user_expire_key)}
