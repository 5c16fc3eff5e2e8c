-- wrk script: POST the REST twin's JSON body in $REQ with the ticket and application token of req11.xml.
wrk.method = "POST"
local f = assert(io.open(os.getenv("REQ"), "rb")); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "SOTicket 7T:1234abcxyzExample=="
wrk.headers["SO-AppToken"] = "1234567-1234-9876"
