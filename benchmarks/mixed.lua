-- wrk script for the "load" section: each request is the next of the bodies in the files
-- $REQ1 .. $REQn (valid and invalid batches, all answered 200 by the emulator), in turn.
local bodies = {}
local i = 1
while os.getenv("REQ" .. i) do
  local f = assert(io.open(os.getenv("REQ" .. i), "rb")); bodies[i] = f:read("*a"); f:close()
  i = i + 1
end
local n = 0
request = function()
  n = n % #bodies + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "text/xml; charset=utf-8",
    ["SOAPAction"] = '"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/SetActivityStatus"',
  }, bodies[n])
end
