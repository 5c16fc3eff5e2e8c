// SuperOffice's own TypeScript client (@superoffice/webapi from the npm registry, unchanged) against
// the emulator's REST twin; run by tests/test_rest_node.py.
//
//   node set_activity_status.js '{"base": "http://127.0.0.1:PORT/Cust1", "ticket": "7T:...",
//                                 "ids": ["appointment_id=666"], "status": "Completed"}'
//
// Optional: "accessToken" (authenticateWithToken instead of a ticket), "applicationToken"
// (the SO-AppToken header). Prints one JSON line: {"ok": true, "value": ...} when the promise
// resolves, {"ok": false, "status": 403, "data": {...}} when it is rejected.
"use strict";

const { WebApi, ActivityStatus } = require("@superoffice/webapi");

async function main() {
  const options = JSON.parse(process.argv[2]);
  const api = new WebApi(options.base);
  if (options.accessToken) api.authenticateWithToken(options.accessToken);
  else if (options.ticket) api.authenticateWithTicket(options.ticket);
  if (options.applicationToken) api.applicationToken(options.applicationToken);
  const agent = api.getAppointmentAgent();
  try {
    const value = await agent.setActivityStatusAsync(options.ids, ActivityStatus[options.status]);
    return { ok: true, value: value === undefined ? null : value };
  } catch (error) {
    const response = error && error.response;
    if (!response) return { ok: false, status: null, error: String(error) };
    return { ok: false, status: response.status, data: response.data };
  }
}

main().then(
  (result) => console.log(JSON.stringify(result)),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);
