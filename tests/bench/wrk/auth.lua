-- wrk script for `make bench`: one request shape, a bearer token per request taken round robin
-- from a file (one token per line), so the load is spread over many users (or one, for the
-- hot-user scenarios). The requests are formatted once in init(), not per request, to keep
-- the load generator's own CPU (it shares the two cores) as low as wrk allows.
--
--   wrk ... -s auth.lua URL -- TOKENS_FILE METHOD PATH [BODY]
--
-- done() prints one JSON line the benchmark driver reads.

local prepared = {}
local next_index = 0

function init(args)
    local tokens_file, method, path, body = args[1], args[2], args[3], args[4]
    local headers = {}
    if body ~= nil and body ~= "" then
        headers["Content-Type"] = "application/json"
    else
        body = nil
    end
    for token in io.lines(tokens_file) do
        if token ~= "" then
            headers["Authorization"] = "Bearer " .. token
            prepared[#prepared + 1] = wrk.format(method, path, headers, body)
        end
    end
    if #prepared == 0 then
        error("no tokens in " .. tokens_file)
    end
    -- Threads (and runs) start at different users.
    math.randomseed(os.time() + #tostring({}))
    next_index = math.random(#prepared) - 1
end

function request()
    next_index = next_index % #prepared + 1
    return prepared[next_index]
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        '{"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
        '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,' ..
        '"p99_us":%d,"max_us":%d}\n',
        summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
        e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency.max))
end
