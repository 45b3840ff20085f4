-- One wrk script for every load scenario; SCENARIO and TOKENS come from the environment.
--   floor        GET /bench/floor                 (the server stack doing no work)
--   about        GET /api/                        (the API's index: no credential, no store)
--   auth         GET /api/auth/me                 (pure authentication; every token in turn)
--   list         GET /api/workspaces              (catalogue with live session counts)
--   bytes        GET /bench/bytes/BYTES           (for the bare server: a body of BYTES bytes, run.sh's
--                                                  mean size of the list's answers; the framework's own
--                                                  cost of answering as much)
--   audit        GET /api/audit-logs?limit=100    (administrators: the newest 100 of all entries)
--   audit-pages  GET /api/audit-logs?limit=100&before=…  (administrators: 100 entries older than one of
--                                                  seed.py's, each request another: pages read once, as
--                                                  a walk through the history; AUDIT: seed.py's --audit;
--                                                  not in run.sh)
--   launch-stop  POST …/launch then POST …/stop    (write path; users with launch rights)
--   login        POST /api/auth/login             (bcrypt-bound)
--   dashboard    GET /                            (the portal's dashboard page: figures, two charts,
--                                                  recent activity; the session cookie of each token in turn)
-- TOKENS lines are `token role email`, written by seed.py. Prints one JSON line when done.

local scenario = os.getenv("SCENARIO") or "floor"
local audit_entries = tonumber(os.getenv("AUDIT") or "100000")
local tokens, admins, launchers, emails = {}, {}, {}, {}
for line in io.lines(os.getenv("TOKENS")) do
  local token, role, email = line:match("^(%S+) (%S+) (%S+)$")
  if token then
    tokens[#tokens + 1] = token
    emails[#emails + 1] = email
    if role == "admin" then admins[#admins + 1] = token end
    if role == "admin" or role == "neosc" then launchers[#launchers + 1] = token end
  end
end

local next_thread = 0
function setup(thread)
  thread:set("offset", next_thread * 7919)
  next_thread = next_thread + 1
end

local counter = 0
function init(args)
  counter = offset or 0
end

local function bearer(list, index)
  return { Authorization = "Bearer " .. list[index % #list + 1] }
end

function request()
  counter = counter + 1
  if scenario == "about" then
    return wrk.format("GET", "/api/")
  elseif scenario == "auth" then
    return wrk.format("GET", "/api/auth/me", bearer(tokens, counter))
  elseif scenario == "list" then
    return wrk.format("GET", "/api/workspaces", bearer(tokens, counter))
  elseif scenario == "audit" then
    return wrk.format("GET", "/api/audit-logs?limit=100", bearer(admins, counter))
  elseif scenario == "audit-pages" then
    -- seed.py's ids are aud-bench-0000000 up to AUDIT (its --audit, 100,000 by default); a prime
    -- stride through them comes back to a cursor only after AUDIT requests.
    local cursor = string.format("aud-bench-%07d", (counter * 7919) % audit_entries)
    return wrk.format("GET", "/api/audit-logs?limit=100&before=" .. cursor, bearer(admins, counter))
  elseif scenario == "launch-stop" then
    local headers = bearer(launchers, math.floor(counter / 2))
    local verb = (counter % 2 == 0) and "launch" or "stop"
    return wrk.format("POST", "/api/workspaces/ws-secure-browser/" .. verb, headers)
  elseif scenario == "bytes" then
    return wrk.format("GET", "/bench/bytes/" .. (os.getenv("BYTES") or "0"))
  elseif scenario == "dashboard" then
    return wrk.format("GET", "/", { Cookie = "neosc_session=" .. tokens[counter % #tokens + 1], Accept = "text/html" })
  elseif scenario == "login" then
    local body = string.format('{"email":"%s","password":"benchmark password"}', emails[counter % #emails + 1])
    -- Each login from its own address (run.sh trusts loopback as a proxy): the per-address
    -- sign-in limits would otherwise answer most of them with 429.
    local client = string.format("10.%d.%d.%d", math.floor(counter / 65536) % 256, math.floor(counter / 256) % 256, counter % 256)
    return wrk.format("POST", "/api/auth/login", { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = client }, body)
  end
  return wrk.format("GET", "/bench/floor")
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, errors.status, errors.connect + errors.read + errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
