-- wrk script: POST the SOAP request in $REQ with its SOAPAction; with $LIMIT, stop each thread
-- after that many answers (so that a run sends a known number of calls).
wrk.method = "POST"
local f = assert(io.open(os.getenv("REQ"), "rb")); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["SOAPAction"] = '"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/SetActivityStatus"'
local limit = tonumber(os.getenv("LIMIT") or "")
if limit then
  local answers = 0
  function response(status, headers, body)
    answers = answers + 1
    if answers >= limit then wrk.thread:stop() end
  end
end
