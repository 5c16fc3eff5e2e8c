-- wrk script: POST the request file in $REQ. A SOAP request (the peers', and the emulator's SOAP case)
-- goes with its SOAPAction; a JSON one (the emulator's REST case) with the REST twin's headers.
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
