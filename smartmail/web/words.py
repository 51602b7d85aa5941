"""The words of the pages, marked for the catalogue: each `_("...")` of a template is here.

The templates put them into the reader's language when they render (pages.py); marked
here, `pybabel extract` finds them with the rest, and a test checks that none is missing.
"""

from __future__ import annotations

from smartmail.mail.phrases import N_

PAGE_WORDS = (
    N_("Add a message"),
    N_("Back to the form"),
    N_("Expected to be done by"),
    N_(
        'Fields marked "required" must be filled in. '
        "You get a confirmation by e-mail with your case number."
    ),
    N_("Files"),
    N_("Language"),
    N_("Leave this field empty"),
    N_("Messages"),
    N_("Other"),
    N_("Please correct the following:"),
    N_("Report something else"),
    N_("Send"),
    N_("Send the report"),
    N_("Status"),
    N_("Subject"),
    N_("Up to {count} photos or PDF files, at most {size} MB each."),
    N_("We answer by e-mail. You can reply to our mail."),
    N_(
        "We send a confirmation to {email}. "
        "It holds a link where you can follow the case and add to it."
    ),
    N_("What happens next"),
    N_("What is wrong, where, and since when?"),
    N_("You"),
    N_("Your case number is {number}."),
    N_("Your confirmation and our answers go here."),
    N_("Your report goes to the person who handles this kind of matter."),
    N_("Your report has been received."),
    N_("required"),
)
