-- Read a channel history stream. Creates the stream meta with a new epoch if
-- there is none, refreshes the meta TTL, and reads publications only when the
-- caller's epoch matches.
--
-- KEYS[1] stream key        P.stream.<ch>
-- KEYS[2] stream meta key   P.stream.meta.<ch>
-- ARGV[1] epoch to use if the stream has no meta
-- ARGV[2] meta ttl in milliseconds
-- ARGV[3] epoch of the caller's position, "" to skip the check
-- ARGV[4] "1" to read publications
-- ARGV[5] "1" for newest first (XREVRANGE)
-- ARGV[6] first id of the range (XRANGE start, XREVRANGE end)
-- ARGV[7] last id of the range
-- ARGV[8] COUNT, "0" for all
--
-- Returns {top offset, epoch, epoch mismatch (0/1), entries}.

local stream_key, meta_key = KEYS[1], KEYS[2]
local new_epoch = ARGV[1]
local meta_ttl = ARGV[2]
local since_epoch = ARGV[3]
local read = ARGV[4]
local reverse = ARGV[5]
local range_from = ARGV[6]
local range_to = ARGV[7]
local count = ARGV[8]

local meta = redis.call("hmget", meta_key, "e", "s")
local epoch, top = meta[1], meta[2]
if not epoch then
  epoch = new_epoch
  redis.call("del", stream_key)
  redis.call("hset", meta_key, "e", epoch)
end
if not top then
  top = "0"
end
redis.call("pexpire", meta_key, meta_ttl)

if since_epoch ~= "" and since_epoch ~= epoch then
  return {top, epoch, 1, {}}
end
if read ~= "1" then
  return {top, epoch, 0, {}}
end

local entries
if reverse == "1" then
  if count == "0" then
    entries = redis.call("xrevrange", stream_key, range_to, range_from)
  else
    entries = redis.call("xrevrange", stream_key, range_to, range_from, "COUNT", count)
  end
else
  if count == "0" then
    entries = redis.call("xrange", stream_key, range_from, range_to)
  else
    entries = redis.call("xrange", stream_key, range_from, range_to, "COUNT", count)
  end
end
return {top, epoch, 0, entries}
