
-- Each line of the requests file: METHOD \t PATH \t TOKEN (or -) \t BODY (or -).
local lines = {}
for line in io.lines(os.getenv("BENCH_REQUESTS")) do lines[#lines + 1] = line end
local counter, threads = 0, 0
function setup(thread) thread:set("id", counter); counter = counter + 1 end
function init(args)
  local parsed = {}
  for i, line in ipairs(lines) do
    local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {["Content-Type"] = "application/json"}
    if token ~= "-" then headers["Authorization"] = "Bearer " .. token end
    if body == "-" then body = nil end
    parsed[i] = wrk.format(method, path, headers, body)
  end
  requests = parsed
  -- threads take turns through the list, so no line is used twice before all are used once
  step = tonumber(os.getenv("BENCH_THREADS"))
  index = id + 1
end
function request()
  local r = requests[index]
  index = index + step
  if index > #requests then index = index - #requests end
  return r
end
