-- Publish a publication into a channel: idempotency check, stream meta
-- (epoch) initialisation, version suppression, offset increment, optional
-- previous payload for delta, XADD with MAXLEN, PUBLISH, idempotency result.
-- Everything happens atomically, so every subscriber sees offsets in order.
--
-- KEYS[1] stream key        P.stream.<ch>
-- KEYS[2] stream meta key   P.stream.meta.<ch>
-- KEYS[3] result key        P.result.<ch>.<idempotency key> (unused when ARGV[7] is "0")
-- ARGV[1] protobuf Publication
-- ARGV[2] history size, "0" publishes without history
-- ARGV[3] history ttl in milliseconds
-- ARGV[4] PUB/SUB channel   P.client.<ch>
-- ARGV[5] meta ttl in milliseconds
-- ARGV[6] epoch to use if the stream has no meta
-- ARGV[7] idempotency result ttl in milliseconds, "0" without idempotency
-- ARGV[8] "1" to deliver the previous publication for delta
-- ARGV[9] version, "0" without version check
-- ARGV[10] version epoch
--
-- Returns {offset, epoch, suppressed (0/1)}.

local stream_key, meta_key, result_key = KEYS[1], KEYS[2], KEYS[3]
local payload = ARGV[1]
local history_size = ARGV[2]
local history_ttl = ARGV[3]
local channel = ARGV[4]
local meta_ttl = ARGV[5]
local new_epoch = ARGV[6]
local result_ttl = ARGV[7]
local use_delta = ARGV[8]
local version = ARGV[9]
local version_epoch = ARGV[10]

-- Decimal strings without leading zeros compare exactly, beyond 2^53.
local function greater(a, b)
  if #a ~= #b then
    return #a > #b
  end
  return a > b
end

if result_ttl ~= "0" then
  local cached = redis.call("hmget", result_key, "e", "s")
  if cached[1] then
    return {cached[2] or "0", cached[1], 1}
  end
end

if history_size == "0" then
  redis.call("publish", channel, payload)
  if result_ttl ~= "0" then
    redis.call("hset", result_key, "e", "", "s", "0")
    redis.call("pexpire", result_key, result_ttl)
  end
  return {"0", "", 0}
end

local meta = redis.call("hmget", meta_key, "e", "s", "v", "ve")
local epoch = meta[1]
if not epoch then
  -- A new stream incarnation: publications of an earlier one are void.
  epoch = new_epoch
  redis.call("del", stream_key)
  redis.call("hset", meta_key, "e", epoch)
  meta[2] = false
  meta[3] = false
  meta[4] = false
end
redis.call("pexpire", meta_key, meta_ttl)

if version ~= "0" then
  local prev_version, prev_version_epoch = meta[3], meta[4] or ""
  if prev_version and (version_epoch == "" or version_epoch == prev_version_epoch)
      and not greater(version, prev_version) then
    return {meta[2] or "0", epoch, 1}
  end
  redis.call("hset", meta_key, "v", version)
  if version_epoch ~= "" then
    redis.call("hset", meta_key, "ve", version_epoch)
  end
end

local offset = redis.call("hincrby", meta_key, "s", 1)

local prev = ""
if use_delta == "1" then
  local last = redis.call("xrevrange", stream_key, "+", "-", "COUNT", 1)
  if #last > 0 then
    local fields = last[1][2]
    for i = 1, #fields, 2 do
      if fields[i] == "d" then
        prev = fields[i + 1]
      end
    end
  end
end

redis.call("xadd", stream_key, "MAXLEN", history_size, offset .. "-0", "d", payload)
redis.call("pexpire", stream_key, history_ttl)

local message
if use_delta == "1" then
  message = "__d1:" .. offset .. ":" .. epoch .. ":" .. #prev .. ":" .. prev .. ":" .. #payload .. ":" .. payload
else
  message = "__p1:" .. offset .. ":" .. epoch .. "__" .. payload
end
redis.call("publish", channel, message)

if result_ttl ~= "0" then
  redis.call("hset", result_key, "e", epoch, "s", offset)
  redis.call("pexpire", result_key, result_ttl)
end

return {offset, epoch, 0}
