"""aiosmtpd handlers for the mail tests (``-c smtp_handlers.Picky``)."""

from aiosmtpd.handlers import Mailbox


class Picky(Mailbox):
    """Stores mail in a Maildir, like ``aiosmtpd.handlers.Mailbox``, but
    refuses for good (550) every recipient whose local part starts with
    ``bounce``: what a receiving server says of an unknown mailbox."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[0].startswith("bounce"):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"
