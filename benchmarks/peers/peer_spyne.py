"""The plain spyne service a user would write in an afternoon (SOAP 1.1, SQLite, a commit per call)."""

import os
import sqlite3
import threading

from spyne import Application, Array, Enum, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

NS = "http://www.superoffice.net/ws/crm/NetServer/Services86"
ARR = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
DB = os.environ.get("PEER_DB", "/tmp/peer.db")
ActivityStatus = Enum("Unknown", "NotStarted", "Started", "Completed", type_name="ActivityStatus")
ArrayOfstring = Array(Unicode.customize(nillable=True), type_name="ArrayOfstring").customize(
    __namespace__=ARR
)
_local = threading.local()


def conn():
    c = getattr(_local, "c", None)
    if c is None:
        c = _local.c = sqlite3.connect(DB)
        c.execute("pragma journal_mode=wal")
    return c


class Appointment(ServiceBase):
    @rpc(ArrayOfstring, ActivityStatus, _returns=None, _body_style="wrapped")
    def SetActivityStatus(ctx, ActivityIdentifier, ActivityStatus):
        c = conn()
        with c:
            for ident in ActivityIdentifier or []:
                kind, _, num = ident.partition("=")
                table = {
                    "appointment_id": "appointment",
                    "sale_id": "sale",
                    "document_id": "document",
                    "todo_id": "todo",
                }[kind]
                c.execute(
                    f"update {table} set status=?, updated_count=updated_count+1 where id=?",
                    (str(ActivityStatus), int(num)),
                )


app = WsgiApplication(
    Application([Appointment], tns=NS, name="Appointment", in_protocol=Soap11(), out_protocol=Soap11())
)
