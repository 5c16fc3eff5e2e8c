-- wrk script: POST the SOAP request in $REQ with its SOAPAction (as ../shared/bench/post.lua does).
wrk.method = "POST"
local f = assert(io.open(os.getenv("REQ"), "rb")); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["SOAPAction"] = '"http://www.superoffice.net/ws/crm/NetServer/Services86/Appointment/SetActivityStatus"'
