"""Bounces and delivery reports as mail servers write them, built by hand for the tests.

The standard ones follow RFC 3464 (its own examples, section 10, and a Postfix-style
report); the others are text in a server's own words, as qmail and Exim write them, and
look-alikes that are no bounce.
"""

from __future__ import annotations

DAEMON = "MAILER-DAEMON@mx.kund.example"


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def rfc3464(
    *,
    to: str,
    returned_id: str,
    recipient: str,
    status: str = "5.1.1",
    action: str = "failed",
    diagnostic: str = "smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown",
    message_id: str = "<20261123091502.4A1B2C3D@mx.kund.example>",
    returned: str = "headers",
) -> bytes:
    """A Postfix-style report: a text part, the delivery status, the returned headers
    (`returned="headers"`), the whole returned mail ("message") or none ("")."""
    diagnostic = diagnostic.replace("{recipient}", recipient)
    returned_part = {
        "headers": "Content-Type: text/rfc822-headers\n\n",
        "message": "Content-Type: message/rfc822\n\n",
        "": "",
    }[returned]
    if returned:
        returned_part = (
            f"--B0UND\n{returned_part}"
            "Return-Path: <felanmalan@bostad.example>\n"
            "From: felanmalan@bostad.example\n"
            f"To: {recipient}\n"
            "Subject: =?utf-8?q?Vi_har_tagit_emot_ditt_=C3=A4rende?= [#1-abcdefgh]\n"
            f"Message-ID: {returned_id}\n"
            + ("\nHej! Vi har tagit emot ditt ärende.\n" if returned == "message" else "")
            + "\n"
        )
    return _crlf(
        f"""Return-Path: <>
Date: Mon, 23 Nov 2026 10:15:02 +0100 (CET)
From: MAILER-DAEMON@mx.kund.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {to}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="B0UND"
Message-Id: {message_id}

This is a MIME-encapsulated message.

--B0UND
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.kund.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--B0UND
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.kund.example
X-Postfix-Queue-ID: 4A1B2C3D
Arrival-Date: Mon, 23 Nov 2026 10:15:01 +0100 (CET)

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.kund.example
Diagnostic-Code: {diagnostic}

{returned_part}--B0UND--
"""
    )


def rfc3464_example_timeout(*, to: str, returned_id: str) -> bytes:
    """RFC 3464 section 10.1, the first example: failed after five days of timeouts
    (Status 4.0.0, so not a failure of the address for good)."""
    return _crlf(
        f"""Date: Thu, 7 Jul 1994 17:16:05 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
Message-Id: <199407072116.RAA14128@CS.UTK.EDU>
Subject: Returned mail: Cannot send message for 5 days
To: <{to}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
      boundary="RAA14128.773615765/CS.UTK.EDU"

--RAA14128.773615765/CS.UTK.EDU

The original message was received at Sat, 2 Jul 1994 17:10:28 -0400
from root@localhost

    ----- The following addresses had delivery problems -----
<louis@larry.slip.umd.edu>  (unrecoverable error)

    ----- Transcript of session follows -----
<louis@larry.slip.umd.edu>... Deferred: Connection timed out
        with larry.slip.umd.edu.
Message could not be delivered for 5 days
Message will be deleted from queue

--RAA14128.773615765/CS.UTK.EDU
content-type: message/delivery-status

Reporting-MTA: dns; cs.utk.edu

Original-Recipient: rfc822;louis@larry.slip.umd.edu
Final-Recipient: rfc822;louis@larry.slip.umd.edu
Action: failed
Status: 4.0.0
Diagnostic-Code: smtp; 426 connection timed out
Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400

--RAA14128.773615765/CS.UTK.EDU
content-type: message/rfc822

Message-ID: {returned_id}
From: felanmalan@bostad.example
To: louis@larry.slip.umd.edu
Subject: Ditt ärende

[original message goes here]

--RAA14128.773615765/CS.UTK.EDU--
"""
    )


def rfc3464_example_three(*, to: str) -> bytes:
    """RFC 3464 section 10.2: three recipients, two failed for good, one delayed."""
    return _crlf(
        f"""Date: Fri, 8 Jul 1994 09:21:47 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
Subject: Returned mail: User unknown
To: <{to}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
      boundary="JAA13167.773673707/CS.UTK.EDU"

--JAA13167.773673707/CS.UTK.EDU
content-type: text/plain; charset=us-ascii

    ----- The following addresses had delivery problems -----
<arathib@vnet.IBM.COM>  (unrecoverable error)
<wsnell@sdcc13.ucsd.edu>  (unrecoverable error)

--JAA13167.773673707/CS.UTK.EDU
content-type: message/delivery-status

Reporting-MTA: dns; cs.utk.edu

Original-Recipient: rfc822;arathib@vnet.ibm.com
Final-Recipient: rfc822;arathib@vnet.ibm.com
Action: failed
Status: 5.0.0 (permanent failure)
Diagnostic-Code: smtp;  550 'arathib@vnet.IBM.COM' is not a
    registered gateway user
Remote-MTA: dns; vnet.ibm.com

Original-Recipient: rfc822;johnh@hpnjld.njd.hp.com
Final-Recipient: rfc822;johnh@hpnjld.njd.hp.com
Action: delayed
Status: 4.0.0 (hpnjld.njd.jp.com: host name lookup failure)

Original-Recipient: rfc822;wsnell@sdcc13.ucsd.edu
Final-Recipient: rfc822;wsnell@sdcc13.ucsd.edu
Action: failed
Status: 5.0.0
Diagnostic-Code: smtp; 550 user unknown
Remote-MTA: dns; sdcc13.ucsd.edu

--JAA13167.773673707/CS.UTK.EDU
content-type: message/rfc822

Original-Message-ID: <three@bostad.example>
Message-ID: <three@bostad.example>
From: felanmalan@bostad.example
Subject: Ett besked

Hej!

--JAA13167.773673707/CS.UTK.EDU--
"""
    )


def qmail_text(*, to: str, recipient: str, returned_id: str) -> bytes:
    """qmail's bounce: plain text, no report, the returned mail inline after a marker."""
    return _crlf(
        f"""Return-Path: <>
Date: 23 Nov 2026 09:20:11 -0000
From: MAILER-DAEMON@mx.kund.example
To: {to}
Subject: failure notice
Message-ID: <qmail-20261123092011@mx.kund.example>

Hi. This is the qmail-send program at mx.kund.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{recipient}>:
192.0.2.7 does not like recipient.
Remote host said: 550 sorry, no mailbox here by that name. (#5.1.1)
Giving up on 192.0.2.7.

--- Below this line is a copy of the message.

Return-Path: <felanmalan@bostad.example>
Message-ID: {returned_id}
From: felanmalan@bostad.example
To: {recipient}
Subject: Vi har tagit emot ditt ärende

Hej! Vi har tagit emot ditt ärende.
"""
    )


def exim_text(*, to: str, recipient: str) -> bytes:
    """Exim's bounce: text with an X-Failed-Recipients header."""
    return _crlf(
        f"""Return-path: <>
From: Mail Delivery System <Mailer-Daemon@mx.kund.example>
To: {to}
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: {recipient}
Auto-Submitted: auto-replied
Message-Id: <E1exim-0004aB-Cd@mx.kund.example>

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {recipient}
    SMTP error from remote mail server after RCPT TO:<{recipient}>:
    host mx2.kund.example [192.0.2.9]: 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown
"""  # noqa: E501
    )


def unnamed_text(*, to: str) -> bytes:
    """A bounce in a gateway's own words that names no recipient, only a status."""
    return _crlf(
        f"""Return-Path: <>
From: Mail Delivery System <postmaster@gw.kund.example>
To: {to}
Subject: Delivery failure
Message-ID: <gw-1@gw.kund.example>

Your message could not be delivered.
Reason: 554 5.7.1 Message rejected by the content filter of the recipient.
"""
    )


def warning_text(*, to: str, recipient: str) -> bytes:
    """A delay warning: not delivered yet, still trying."""
    return _crlf(
        f"""Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.kund.example>
To: {to}
Subject: Delayed Mail (still being retried)
Message-ID: <delay-1@mx.kund.example>

This is the mail system at host mx.kund.example.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 4 hour(s).
It will be retried until it is 5 day(s) old.

<{recipient}>: host mx.kund.example[192.0.2.7] said: 452 4.2.2 Mailbox full
"""
    )


def autoreply(*, to: str, sender: str) -> bytes:
    """An autoresponder answering the return path (as RFC 3834 asks): no bounce."""
    return _crlf(
        f"""Return-Path: <>
From: Eva Svensson <{sender}>
To: {to}
Subject: Frånvarande: Vi har tagit emot ditt ärende
Message-ID: <ooo-1@kund.example>

Hej! Jag är på semester till den 5 december.
Ring mig på 08-555 1234 eller Tel: 555-1234 om det brådskar.
"""
    )
