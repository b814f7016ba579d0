-- Drop expired presence entries and return the remaining ones.
--
-- KEYS[1] expiry zset, KEYS[2] data hash (as in presence_add.lua)
-- ARGV[1] now, Unix seconds
--
-- Returns the HGETALL of the data hash (client, info, client, info, ...).

local expire_key, data_key = KEYS[1], KEYS[2]
local now = ARGV[1]

local expired = redis.call("zrangebyscore", expire_key, "-inf", now)
if #expired > 0 then
  for i = 1, #expired, 1000 do
    redis.call("hdel", data_key, unpack(expired, i, math.min(i + 999, #expired)))
  end
  redis.call("zremrangebyscore", expire_key, "-inf", now)
end
return redis.call("hgetall", data_key)
