-- wrk script for ../shared/bench/compare.sh with the REST twin: its post.lua, plus the REST headers
-- when the request file in $REQ is JSON (the emulator's REST case; the peers keep their SOAP request).
wrk.method = "POST"
local path = os.getenv("REQ")
local f = assert(io.open(path, "rb")); wrk.body = f:read("*a"); f:close()
if path:sub(-5) == ".json" then
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "SOTicket 7T:1234abcxyzExample=="
  wrk.headers["SO-AppToken"] = "1234567-1234-9876"
else
  wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
  wrk.headers["SOAPAction"] = '"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/SetActivityStatus"'
end
